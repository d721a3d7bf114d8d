"""The run folder, read and written (docs/architecture.md: the contract with the other stages).

    models/NAME/  config.json vocab.json split.json rhythm.json baselines.json metrics.csv
                  status.json progress.json best.keras last.keras log.txt job.json
                  [artists.json: a conditioned run's artist table, conditioning.py]
                  token-files/ (tokens.json and the memory-mapped token arrays)
                  [sweep.json, lr-*/ for a sweep; .worker-N/ for multi-machine workers]

This module owns those names: everything else says `runs.SPLIT`, never "split.json".
No Keras here: the pages list and poll runs without loading TensorFlow.
status.json "state": running | finished | stopped | failed; a "running" run whose process is gone
reads as "interrupted" (`read_status`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from deeprock import atomic, filelock
from deeprock.atomic import write_atomic

CONFIG, VOCAB, METRICS, STATUS = "config.json", "vocab.json", "metrics.csv", "status.json"
PROGRESS, BEST, LAST, LOG = "progress.json", "best.keras", "last.keras", "log.txt"
BASELINES, SWEEP, SPLIT, RHYTHM = "baselines.json", "sweep.json", "split.json", "rhythm.json"
JOB = "job.json"  # jobs.py's launch record: pid, command, start time
ARTISTS = "artists.json"  # a conditioned run's artist table (conditioning.ArtistTable)
# tokenfiles.py's memory-mapped training data (train.ids.i4 ...) and its manifest, in the run
TOKENS, TOKENS_MANIFEST = "token-files", "tokens.json"
RUN_FILES = (CONFIG, VOCAB, METRICS, STATUS, PROGRESS, BEST, LAST, LOG, BASELINES, SWEEP, SPLIT,
             RHYTHM, JOB, TOKENS, TOKENS_MANIFEST, ARTISTS)
MEMBER_PREFIX, WORKER_PREFIX = "lr-", ".worker-"  # a sweep's members, a worker's scratch folder
LOCK = "deeprock-training.lock"  # the machine's one training lock, in the temporary folder
LAUNCH_SUFFIX = ".starting"  # jobs.py's launch record beside the lock
STATES = ("running", "finished", "stopped", "failed", "interrupted")


class RunFolderError(ValueError):
    """A run folder that cannot be used: missing, unfinished, or of another format."""


SPLIT_SIDES = ("train_files", "validation_files", "train_tracks", "validation_tracks")


@dataclass(frozen=True)
class RunSplit:
    """split.json: each side's files as (root, path) and tracks as (root, path, index,
    channel), names that survive a rescan. Runs trained before the tracks were recorded have
    files only (their tracks empty)."""

    train_files: tuple[tuple[str, str], ...] = ()
    validation_files: tuple[tuple[str, str], ...] = ()
    train_tracks: tuple[tuple[str, str, int, int], ...] = ()
    validation_tracks: tuple[tuple[str, str, int, int], ...] = ()

    @classmethod
    def from_dict(cls, data: dict) -> RunSplit:
        return cls(*(tuple(tuple(key) for key in data.get(side, [])) for side in SPLIT_SIDES))

    def to_dict(self) -> dict:
        return {side: [list(key) for key in getattr(self, side)] for side in SPLIT_SIDES}


@dataclass
class RunFiles:
    """What evaluation and generation read of a run folder (rhythm: rhythm.json, {} if none)."""

    config: object  # RunConfig
    vocabulary: object  # RunVocabulary
    split: RunSplit
    rhythm: dict


def read_run(run: str | os.PathLike) -> RunFiles:
    """The files of a run with a checkpoint; RunFolderError says what is wrong. split.json and
    rhythm.json may be missing (empty then): older runs, or a folder copied without them."""
    from deeprock.training.config import RunConfig
    from deeprock.training.vocab import RunVocabulary

    run = Path(run)
    if not run.is_dir():
        raise RunFolderError(f"no run folder at {run}: train one with deeprock train --out {run}")
    missing = [name for name in (CONFIG, VOCAB, BEST) if not (run / name).is_file()]
    if missing:
        raise RunFolderError(f"run {run} lacks {', '.join(missing)}: it is not a finished run, "
                             "or has no checkpoint yet (wait for its first epoch)")
    try:
        config, vocabulary = RunConfig.load(run / CONFIG), RunVocabulary.load(run / VOCAB)
    except ValueError as error:
        raise RunFolderError(f"run {run}: {error}") from error
    return RunFiles(config, vocabulary, RunSplit.from_dict(read_json(run / SPLIT)),
                    read_json(run / RHYTHM))


def sweep_member(out: str | os.PathLike, rate: float) -> Path:
    """The run folder of one learning rate of a sweep (out/lr-0.01/, as the post did)."""
    return Path(out) / f"{MEMBER_PREFIX}{rate:g}"


def worker_folder(run: Path, index: int) -> Path:
    """Scratch files of multi-machine worker `index` (> 0): a twin of worker 0's run."""
    return run / f"{WORKER_PREFIX}{index}"


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return True


def read_json(path: Path) -> dict:
    """A run file, or {} while it is missing or being replaced: pages poll runs that are still
    being written (deeprock.atomic.read_json is the strict reader)."""
    try:
        return atomic.read_json(path, "run file")
    except ValueError:
        return {}


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True))


def read_status(run: Path) -> dict:
    """status.json, with "interrupted" for a running run whose process is gone."""
    status = read_json(Path(run) / STATUS)
    if status.get("state") == "running" and not pid_alive(status.get("pid")):
        status = {**status, "state": "interrupted",
                  "reason": "the training process ended without saying why (killed?): "
                            "Resume continues from the last completed epoch"}
    return status


def update_status(run: Path, **changes) -> dict:
    status = {**read_json(Path(run) / STATUS), **changes, "updated": time.time()}
    write_json(Path(run) / STATUS, status)
    return status


def read_metrics(run: Path) -> list[dict]:
    """metrics.csv rows with numbers as floats (epoch as int)."""
    try:
        text = (Path(run) / METRICS).read_text(encoding="utf-8")
    except OSError:
        return []
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append({k: (int(v) if k == "epoch" else _number(v)) for k, v in row.items()})
    return rows


def seconds_used(rows: list[dict]) -> float:
    """The training time of the run's completed epochs: what its time budget counts, over
    every resume."""
    return sum(r.get("seconds", 0.0) for r in rows)


def budget_note(max_minutes: float, rows: list[dict]) -> str:
    """The time budget is the run's total: a resume continues with what its epochs left."""
    if not max_minutes:
        return "no time budget"
    left = max(max_minutes - seconds_used(rows) / 60, 0.0)
    return f"{left:.1f} of the {max_minutes:g}-minute time budget left"


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def monitored_loss(row: dict) -> float:
    """What best.keras is chosen by: val_loss (the training loss of a run without validation)."""
    return row.get("val_loss", row.get("loss", math.nan))


def best_row(metrics: list[dict]) -> dict | None:
    """The epoch best.keras holds, the one rule for the recorder, the runs table, the
    evaluation panel and `deeprock evaluate`: the first epoch with the lowest finite monitored
    loss (a later tie does not replace it; NaN rows never count)."""
    best = None
    for row in metrics:
        loss = monitored_loss(row)
        if math.isfinite(loss) and (best is None or loss < monitored_loss(best)):
            best = row
    return best


def next_token_loss(row: dict) -> float:
    """The validation loss every architecture has: deeprock's val_loss also sums its weighted
    rhythm heads, the seed's is the next-token loss alone."""
    return row.get("val_next_token_loss", row.get("val_loss", math.nan))


def write_metrics(run: Path, rows: list[dict]) -> None:
    """The whole file each epoch (a few KB), atomically: never a half row, never a row twice."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(Path(run) / METRICS, buffer.getvalue())


@dataclass
class RunSummary:
    """One row of the runs table."""

    name: str
    path: Path
    arch: str
    state: str
    epochs: int
    best_epoch: int  # the epoch best.keras holds (best_row); 0 before the first
    best_val_loss: float
    perplexity: float  # next-token perplexity at best_epoch
    minutes: float
    device: str
    size_mb: float
    started: float

    @property
    def has_model(self) -> bool:
        return (self.path / BEST).is_file()


def summarize(run: Path, root: Path) -> RunSummary:
    config, status, metrics = read_json(run / CONFIG), read_status(run), read_metrics(run)
    best = best_row(metrics) or {}
    size = sum(p.stat().st_size for p in run.glob("*.keras"))
    return RunSummary(
        name=str(run.relative_to(root)), path=run, arch=config.get("model", {}).get("arch", "?"),
        state=status.get("state", "unknown"), epochs=len(metrics),
        best_epoch=best.get("epoch", 0), best_val_loss=best.get("val_loss", math.nan),
        perplexity=math.exp(next_token_loss(best)),
        minutes=seconds_used(metrics) / 60,
        device=config.get("facts", {}).get("device", "?"), size_mb=size / 1e6,
        started=status.get("started", 0.0))


def list_runs(root: str | os.PathLike = "models") -> list[RunSummary]:
    """Every run folder under root (sweep members included), newest first."""
    root = Path(root)
    runs = [p.parent for p in root.glob("**/" + CONFIG)]
    return sorted((summarize(run, root) for run in runs), key=lambda r: -r.started)


def lock_path() -> Path:
    import tempfile

    return Path(os.environ.get("DEEPROCK_TRAIN_LOCK") or Path(tempfile.gettempdir()) / LOCK)


def active_training() -> dict | None:
    """{"pid", "run"} of the training that holds this machine's lock, None when free."""
    if not filelock.held(lock_path()):
        return None
    try:
        return json.loads(filelock.record(lock_path()) or "{}") or {"pid": None, "run": "?"}
    except json.JSONDecodeError:
        return {"pid": None, "run": "?"}


class TrainingBusy(RuntimeError):
    """Another training holds the machine's lock."""


_held_lock: list = []  # the open handle that holds this process's training lock


def acquire_lock(run: Path) -> None:
    """One training per machine: an flock on the lock file (deeprock.filelock), which the
    kernel drops when the trainer dies, so a killed training never blocks the next one."""
    path = lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _held_lock.append(filelock.take(path, json.dumps({"pid": os.getpid(),
                                                           "run": str(run)})))
    except filelock.LockBusy:
        holder = active_training() or {}
        raise TrainingBusy(f"training {holder.get('run', '?')} is running (pid "
                           f"{holder.get('pid')}): stop it or wait for it") from None
    except OSError as error:
        raise TrainingBusy(f"cannot take the training lock {path}: {error.strerror}") from error


def release_lock() -> None:
    while _held_lock:
        _held_lock.pop().close()
