"""One training run, or a learning-rate sweep of them, into run folders.

    result = train_run(RunConfig(catalog="data/demo.sqlite"), Path("models/demo"))
    sweep(config, Path("models/lr"), [0.01, 0.001, 0.0001])     # models/lr/lr-0.01 ...

The same call on an unfinished run folder continues it from its last completed epoch; a folder
holding a run of other settings is refused unless `force`. SIGTERM stops gracefully.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import numpy as np

from deeprock.corpus.catalog import Catalog
from deeprock.corpus.selection import Selection, track_ids
from deeprock.training import finetune, runs, tokenfiles
from deeprock.training.baselines import NgramBaseline, window_targets
from deeprock.training.conditioning import RunArtists, artist_inputs
from deeprock.training.config import RunConfig
from deeprock.training.split import DataError, TrainingData, build_training_data
from deeprock.training.vocab import RHYTHM_CLASSES

# Set by SIGTERM from the moment the command starts (the Stop button may come while TensorFlow
# is still loading); checked at every batch.
STOP_REQUESTED = [False]


def catch_stop_requests() -> None:
    signal.signal(signal.SIGTERM, lambda *_: STOP_REQUESTED.__setitem__(0, True))


class RunConflict(ValueError):
    """The run folder holds another run (other settings, newer format)."""


def load_data(config: RunConfig) -> TrainingData:
    """The run's training data in memory: the selection's tracks, or every guitar track."""
    _check_catalog(config)
    with Catalog(config.catalog) as catalog:
        tracks = None
        if config.selection:
            tracks = selection_tracks(catalog, config.selection)
        return build_training_data(catalog, config.data, tracks, parent_vocabulary(config))


def parent_vocabulary(config: RunConfig):
    """A fine-tuned run reads its tokens through its parent's vocabulary (its weights' rows);
    None for a run of its own."""
    if not config.init_from:
        return None
    from deeprock.training.vocab import RunVocabulary

    return RunVocabulary.load(Path(config.init_from) / runs.VOCAB)


def run_data(config: RunConfig, run: Path, log=None, write: bool = True) -> TrainingData:
    """The run's training data memory-mapped from its token files (tokenfiles.py): written on
    the first start, reused by a resume, rewritten when stale or damaged (log says why).
    write=False (an evaluation): built in memory instead when they are not usable."""
    _check_catalog(config)
    folder, key = Path(run) / runs.TOKENS, data_key(config)
    with Catalog(config.catalog) as catalog:
        try:
            return tokenfiles.open_data(folder, config.data, key, catalog.file_keys())
        except tokenfiles.StaleTokens as why:
            if not write:
                return load_data(config)
            if log:
                log(f"writing the token files: {why}")
        tracks = selection_tracks(catalog, config.selection) if config.selection else None
        return tokenfiles.write_data(catalog, config.data, tracks, folder, key,
                                     parent_vocabulary(config))


def data_key(config: RunConfig) -> dict:
    """What the token files depend on: the catalog, the selection, the data settings and the
    parent run (whose vocabulary a fine-tuned run's tokens are in)."""
    key = config.settings_key()
    names = ("catalog", "selection", "selection_sha256", "data",
             *(("init_from",) if config.init_from else ()))  # older runs' files stay valid
    return {name: key[name] for name in names}


def _check_catalog(config: RunConfig) -> None:
    if not os.path.isfile(config.catalog):
        raise DataError(f"no catalog at {config.catalog}: scan a MIDI folder first")


def selection_tracks(catalog: Catalog, path: str) -> set:
    try:
        selection = Selection.load(path)
    except ValueError as error:
        raise DataError(str(error)) from error
    if not os.path.exists(selection.catalog):
        raise DataError(f"selection {path} was made for catalog {selection.catalog}, which is "
                        "gone: save the selection again on the Dataset health page")
    tracks = track_ids(catalog, selection)
    if not tracks:
        raise DataError(f"none of the {len(selection.tracks)} tracks of selection {path} is in "
                        f"catalog {catalog.path} (rescanned with other files?): save the "
                        "selection again on the Dataset health page")
    return tracks


def file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def train_run(config: RunConfig, run: Path, force: bool = False, json_mode: bool = False) -> dict:
    """Train (or continue) one run; returns the `--json` summary. Holds the machine's lock."""
    from deeprock.training import environment

    run = Path(run)
    place = environment.join_workers(config.train.distribute)
    if place and place.index:  # a twin of worker 0 (same weights): its files are scratch
        return _train_locked(config, runs.worker_folder(run, place.index), force, json_mode)
    runs.acquire_lock(run)
    try:
        return _train_locked(config, run, force, json_mode)
    finally:
        runs.release_lock()


def _train_locked(config: RunConfig, run: Path, force: bool, json_mode: bool) -> dict:
    rows, status = _open_run_folder(config, run, force)
    if status.get("state") == "finished" and status.get("epoch", 0) >= config.train.epochs:
        return _result(run, status, rows, 0.0)
    log = _logger(run, json_mode)
    started = time.monotonic()
    if config.selection:
        config.selection_sha256 = file_sha256(config.selection)
    data = run_data(config, run, log)
    if config.init_from:
        finetune.check_vocabulary_fit(config, data)
    _save_run_inputs(config, run, data)
    artists = artist_inputs(config, data, run)
    from deeprock.training import environment

    config.facts.update(environment.facts(config))
    config.save(run / runs.CONFIG)
    status = runs.update_status(run, state="running", reason="", pid=os.getpid(),
                                epochs=config.train.epochs, started=status.get("started",
                                                                              time.time()),
                                **{k: config.facts[k] for k in ("device", "backend", "cudnn")})
    log(f"{config.model.arch}: {json.dumps(data.summary())} on {config.facts['device']}")
    catch_stop_requests()
    try:
        reason = _fit(config, run, data, artists, rows, status, STOP_REQUESTED, log)
        state = "finished"
    except _stop_exceptions() as error:
        state, reason = _ended(error)
    status = runs.update_status(run, state=state, reason=reason, pid=None)
    (run / runs.PROGRESS).unlink(missing_ok=True)
    log(f"{state}: {reason}")
    return _result(run, status, rows, time.monotonic() - started)


def _stop_exceptions() -> tuple:
    from deeprock.training.recorder import StopRequested, TrainingFailed

    return StopRequested, TrainingFailed, KeyboardInterrupt


def _ended(error: BaseException) -> tuple[str, str]:
    from deeprock.training.recorder import TrainingFailed

    if isinstance(error, TrainingFailed):
        return "failed", str(error)
    return "stopped", "stopped on request; the last completed epoch is kept: Resume continues"


def _open_run_folder(config: RunConfig, run: Path, force: bool) -> tuple[list[dict], dict]:
    """(metrics rows, status) to continue from; a fresh folder gives ([], {})."""
    if (run / runs.CONFIG).exists() and force:
        shutil.rmtree(run)
    if not (run / runs.CONFIG).exists():
        run.mkdir(parents=True, exist_ok=True)
        (run / runs.ARTISTS).unlink(missing_ok=True)  # a start that died before its config
        return [], {}
    try:
        previous = RunConfig.load(run / runs.CONFIG)
    except ValueError as error:
        raise RunConflict(f"{run}: {error}") from error
    if previous.settings_key() != config.settings_key():
        changed = _differences(previous.settings_key(), config.settings_key())
        raise RunConflict(f"{run} holds a run with other settings ({', '.join(changed)}): "
                          "choose another --out, or --force to replace it")
    config.facts = previous.facts
    status = runs.read_json(run / runs.STATUS)
    done = int(status.get("epoch", 0)) if (run / runs.LAST).exists() else 0
    rows = runs.read_metrics(run)[:done]
    return rows, {**status, "epoch": done}


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    names = []
    for key in sorted(set(old) | set(new)):
        if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            names += _differences(old[key], new[key], f"{prefix}{key}.")
        elif old.get(key) != new.get(key):
            names.append(f"{prefix}{key} {old.get(key)!r} → {new.get(key)!r}")
    return names


def _save_run_inputs(config: RunConfig, run: Path, data: TrainingData) -> None:
    """vocab.json, split.json, rhythm.json, baselines.json: what evaluation and generation read."""
    config.facts.update(data.summary())
    if not (run / runs.VOCAB).exists():
        data.vocabulary.save(run / runs.VOCAB)
    else:
        from deeprock.training.vocab import RunVocabulary

        if RunVocabulary.load(run / runs.VOCAB) != data.vocabulary:
            raise RunConflict(f"{run}: the catalog's tokens changed since this run started "
                              "(rescanned?): train into a new folder")
    runs.write_json(run / runs.SPLIT, run_split(data).to_dict())
    runs.write_json(run / runs.RHYTHM, {
        f"{name}_counts": tokenfiles.chunked_bincount(getattr(data.train, name),
                                                      RHYTHM_CLASSES).tolist()
        for name in ("delta", "duration")})
    baseline = NgramBaseline.fit(data.train.ids, data.train.offsets, len(data.vocabulary))
    starts = validation_starts(data.validation_starts, config)
    targets = window_targets(starts, config.data.seq_len, config.model.arch)
    runs.write_json(run / runs.BASELINES, baseline.perplexities(
        data.validation.ids, data.validation.offsets, targets))


def run_split(data: TrainingData) -> runs.RunSplit:
    """split.json: each side's files and tracks by name (ids change when the catalog is
    rescanned); the tracks are exactly those trained on, whatever the selection was."""
    sides = (data.train, data.validation)
    files = [tuple(sorted({data.paths[f] for f in side.files})) for side in sides]
    tracks = [tuple(sorted((*data.paths[f], idx, channel) for f, idx, channel in side.keys))
              for side in sides]
    return runs.RunSplit(*files, *tracks)


SEED_VALIDATION_WINDOWS = 4096


def validation_starts(starts: np.ndarray, config: RunConfig) -> np.ndarray:
    """Seed: kept windows (one target each), at most SEED_VALIDATION_WINDOWS evenly spread, so
    an epoch's validation costs what a sequence model's does. Sequence models: kept windows
    that do not overlap, so each validation token is scored once."""
    if config.model.arch == "seed" or not len(starts):
        if len(starts) <= SEED_VALIDATION_WINDOWS:
            return starts
        return starts[np.linspace(0, len(starts) - 1, SEED_VALIDATION_WINDOWS).astype(np.int64)]
    return non_overlapping(starts, config.data.seq_len)


def non_overlapping(starts: np.ndarray, seq_len: int) -> np.ndarray:
    """The kept windows, first come first served, that share no position."""
    chosen, next_free = [], -1
    chunk = tokenfiles.CHUNK_TOKENS  # as Python ints a chunk at a time
    for begin in range(0, len(starts), chunk):
        for start in starts[begin:begin + chunk].tolist():
            if start >= next_free:
                chosen.append(start)
                next_free = start + seq_len
    return np.array(chosen, dtype=np.int64)


def _fit(config: RunConfig, run: Path, data: TrainingData, artists: RunArtists | None,
         rows: list[dict], status: dict, stop_flag: list[bool], log) -> str:
    from deeprock.training import environment
    from deeprock.training.batches import WindowBatches
    from deeprock.training.recorder import RunRecorder

    arch, seq_len, train = config.model.arch, config.data.seq_len, config.train
    place = environment.worker() if train.distribute == "multiworker" else None
    share = (place.index, place.count) if place else (0, 1)
    batches = training_batches(config, data, share, artists)
    held_out = WindowBatches(data.validation, validation_starts(data.validation_starts, config),
                             seq_len, batches.batch_size, arch, shuffle=False, share=share,
                             positions=batches.positions,
                             artists=artists.validation if artists else None)
    done = int(status.get("epoch", 0))
    if train.max_minutes and runs.seconds_used(rows) >= train.max_minutes * 60:
        return f"time budget of {train.max_minutes:g} minutes already used by {done} epochs"
    with environment.strategy(train.distribute):
        model = _model(config, run, data, done, len(artists.table) if artists else 0)
    recorder = RunRecorder(run, batches, rows, status, train.epochs, train.patience,
                           train.max_minutes * 60, seq_len, stop_flag)
    log(f"epochs {done + 1}..{train.epochs}: {batches.windows} windows, {len(batches)} batches "
        f"an epoch; {runs.budget_note(train.max_minutes, rows)}")
    model.fit(batches, validation_data=held_out, epochs=train.epochs, initial_epoch=done,
              callbacks=[recorder], verbose=0)
    for row in rows[done:]:
        log(" ".join(f"{k}={v:.4g}" for k, v in row.items()))
    return recorder.finish_reason or f"{train.epochs} epochs done"


def training_batches(config: RunConfig, data: TrainingData, share: tuple[int, int] = (0, 1),
                     artists: RunArtists | None = None):
    """The training side's batches as `fit` (and the estimate) draw them; each of `share[1]`
    workers feeds its share of a batch; a conditioned run's with each window's artist."""
    from deeprock.training.batches import WindowBatches, transposition_table
    from deeprock.training.models import takes_positions

    train = config.train
    table = (transposition_table(data.vocabulary, train.augment_semitones)
             if train.augment_semitones else None)
    return WindowBatches(data.train, data.train_starts, config.data.seq_len,
                         train.batch_size // share[1], config.model.arch, seed=train.seed,
                         stride=config.data.stride, transpose=table, share=share,
                         positions=takes_positions(config.model),
                         artists=artists.train if artists else None,
                         any_share=train.any_artist_share)


def _model(config: RunConfig, run: Path, data: TrainingData, done: int, artists: int):
    """The model to fit: the last checkpoint of a resumed run, the parent's best weights at the
    new rate for a fine-tuning, or a new one."""
    from deeprock.training import environment
    from deeprock.training.models import build_model, load_model

    if done:
        return load_model(str(run / runs.LAST))
    environment.set_precision(config.train.precision)
    import keras

    keras.utils.set_random_seed(config.train.seed)
    jit = environment.jit_flag(config.train.jit_compile)
    if config.init_from:
        return finetune.parent_model(config, jit)
    mean, std = tokenfiles.id_moments(data.train.ids)
    return build_model(config.model, len(data.vocabulary), config.data.seq_len, mean, std,
                       jit_compile=jit, artists=artists)


def _logger(run: Path, quiet: bool):
    import sys

    echo = not quiet and sys.stderr.isatty()

    def log(message: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n"
        with open(run / runs.LOG, "a", encoding="utf-8") as handle:
            handle.write(line)
        if echo:
            sys.stderr.write(line)

    return log


def _result(run: Path, status: dict, rows: list[dict], seconds: float) -> dict:
    summary = runs.summarize(run, run.parent)
    return {"run": str(run), "state": status.get("state"), "reason": status.get("reason"),
            "epochs": len(rows), "best_val_loss": status.get("best_val_loss"),
            "perplexity": summary.perplexity, "seconds": seconds,
            "baselines": runs.read_json(run / runs.BASELINES)}


def sweep(config: RunConfig, out: Path, rates: list[float], force: bool = False,
          json_mode: bool = False) -> dict:
    """One run per learning rate (out/lr-<rate>/, as the post did) and out/sweep.json."""
    results = []
    for rate in rates:
        member = RunConfig.from_dict(config.to_dict())
        member.model.learning_rate = rate
        result = train_run(member, runs.sweep_member(out, rate), force, json_mode)
        results.append({"lr": rate, **result})
        runs.write_json(Path(out) / runs.SWEEP, {"rates": [
            {"lr": r["lr"], "run": r["run"], "state": r["state"],
             "best_val_loss": r["best_val_loss"]} for r in results]})
        if result["state"] == "stopped":
            break
    return {"sweep": results, "summary": str(Path(out) / runs.SWEEP)}


def estimate(config: RunConfig, batches_to_time: int = 8) -> dict:
    """Seconds per batch after one untimed batch (which compiles), and the epoch it implies;
    the data memory-mapped from token files in a scratch folder, as a run reads it (in memory,
    a 500M-token corpus would need ~23 GB just to be timed)."""
    with tempfile.TemporaryDirectory(prefix="deeprock-estimate-") as scratch:
        return _estimate(config, run_data(config, Path(scratch)), batches_to_time)


def _estimate(config: RunConfig, data: TrainingData, batches_to_time: int) -> dict:
    from deeprock.training import environment
    from deeprock.training.models import build_model

    artists = artist_inputs(config, data)
    batches = training_batches(config, data, artists=artists)
    model = build_model(config.model, len(data.vocabulary), config.data.seq_len,
                        artists=len(artists.table) if artists else 0)
    steps = min(len(batches), batches_to_time + 1)
    model.train_on_batch(*batches[0])
    began = time.monotonic()
    for index in range(1, steps):
        model.train_on_batch(*batches[index])
    per_batch = (time.monotonic() - began) / max(steps - 1, 1)
    return {"seconds_per_batch": per_batch, "batches_per_epoch": len(batches),
            "epoch_seconds": per_batch * len(batches),
            "device": environment.facts(config)["device"]}

