"""Score a run on any catalog's guitar tracks: has the model learned something that carries to
songs it never saw?

    evaluate_run(Path("models/demo"), "other.sqlite")
    # {"windows", "loss", "accuracy", "perplexity", "unk_share", "heads": {...}, "baselines": {...},
    #  "best_epoch": the epoch best.keras holds (runs.best_row), as the Train page shows it}

Windows are cut as in training (the run's seq_len and unique_factor filter); sequence models are
scored on every position of non-overlapping windows, the seed on the one target after each
window. Tokens outside the run's vocabulary are <unk>; their share is reported, since a model
that mostly predicts <unk> is easy to flatter. The n-gram baselines, refitted on the run's own
training side, are scored on exactly the same targets. A conditioned run reads each track as its
artist (by the evaluated catalog's artist rule; an artist its table lacks as "any").
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from deeprock.corpus.artists import file_artists
from deeprock.corpus.catalog import Catalog
from deeprock.training import runs
from deeprock.training.baselines import NgramBaseline, window_targets
from deeprock.training.conditioning import ArtistTable
from deeprock.training.config import RunConfig
from deeprock.training.models import ModelSettings, takes_artists, takes_positions
from deeprock.training.split import DataError, Side, encode, read_streams, window_starts
from deeprock.training.vocab import RunVocabulary

BATCH = 256


class EvaluationError(ValueError):
    """The run or the catalog cannot be scored; the message says why."""


def open_run(run: Path) -> runs.RunFiles:
    """The run's files with a clear message for what is missing."""
    try:
        return runs.read_run(run)
    except runs.RunFolderError as error:
        raise EvaluationError(str(error)) from error


def evaluate_run(run: Path, catalog_path: str, seq_len: int | None = None,
                 unique_factor: int | None = None, max_windows: int = 0,
                 targets: str = "all", held_out_only: bool = False) -> dict:
    """targets "last": only the token after each window (every kept window), as the seed is
    scored, so a sequence model and the seed can be compared on the very same predictions.
    held_out_only: only the files the run held out for validation (split.json)."""
    files = open_run(Path(run))
    config, vocabulary = files.config, files.vocabulary
    seq_len = seq_len or config.data.seq_len
    if config.model.arch == "seed" and seq_len != config.data.seq_len:
        raise EvaluationError(f"the seed network reads windows of exactly {config.data.seq_len}"
                              f" tokens, not {seq_len}")
    unique_factor = config.data.unique_factor if unique_factor is None else unique_factor
    with Catalog(catalog_path) as catalog:
        streams = list(read_streams(catalog, None))
        lookup = vocabulary.lookup(catalog.vocabulary.tokens)
        if held_out_only:
            streams = _held_out(streams, catalog, Path(run), files.split)
        artists = file_artists(catalog) if takes_artists(config.model) else None
    if not streams:
        raise EvaluationError(f"catalog {catalog_path} has no guitar track with tokens")
    side = encode(streams, lookup)
    track_artists = _track_artists(Path(run), side, artists)
    scoring = "seed" if targets == "last" else config.model.arch
    starts = _scored_starts(side, seq_len, unique_factor, scoring, max_windows)
    if not len(starts):
        raise EvaluationError(f"catalog {catalog_path} has no window of {seq_len} tokens with "
                              f"more than {unique_factor} distinct")
    from deeprock.training.models import load_model

    model = load_model(str(Path(run) / runs.BEST))
    heads = score(model, side, starts, seq_len, config.model, last_only=targets == "last",
                  artists=track_artists)
    targets = window_targets(starts, seq_len, scoring)
    token = heads["next_token"]
    best = runs.best_row(runs.read_metrics(Path(run))) or {}
    return {"windows": len(starts), "best_epoch": best.get("epoch"), "loss": token["loss"],
            "accuracy": token["accuracy"], "perplexity": token["perplexity"],
            "unk_share": float(np.mean(side.ids[targets] == 0)), "targets": len(targets),
            "heads": heads, "baselines": _baselines(Path(run), config, vocabulary, side, targets)}


def _track_artists(run: Path, side: Side, artists: dict[int, str] | None) -> np.ndarray | None:
    """A conditioned run scores each track as its artist (an artist it never saw: "any")."""
    if artists is None:
        return None
    try:
        table = ArtistTable.load(run / runs.ARTISTS)
    except ValueError as error:
        raise EvaluationError(f"run {run} is conditioned on artists: {error}") from error
    return table.track_ids(side.files, artists, unknown_as_any=True)


def _held_out(streams: list, catalog: Catalog, run: Path, split: runs.RunSplit) -> list:
    wanted = set(split.validation_files)
    if not wanted:
        raise EvaluationError(f"{run} has no {runs.SPLIT} with validation files")
    paths = catalog.file_keys()
    return [s for s in streams if paths[s.file_id] in wanted]


def _scored_starts(side: Side, seq_len: int, unique_factor: int, arch: str,
                   max_windows: int) -> np.ndarray:
    from deeprock.training.train import non_overlapping

    starts = window_starts(side, seq_len, unique_factor)
    if arch != "seed":
        starts = non_overlapping(starts, seq_len)
    if max_windows and len(starts) > max_windows:
        starts = starts[np.linspace(0, len(starts) - 1, max_windows).astype(np.int64)]
    return starts


def score(model, side: Side, starts: np.ndarray, seq_len: int, settings: ModelSettings,
          last_only: bool = False, artists: np.ndarray | None = None) -> dict:
    """Loss (mean negative log-likelihood), accuracy and perplexity of each head; artists: a
    conditioned run's artist id per track."""
    from deeprock.training.batches import WindowBatches

    arch = settings.arch
    batches = WindowBatches(side, starts, seq_len, BATCH, arch, shuffle=False,
                            positions=takes_positions(settings), artists=artists)
    sums: dict[str, list[float]] = {}
    for index in range(len(batches)):
        x, y = batches[index]
        predicted = model.predict_on_batch(x)
        if arch == "seed":
            predicted, y = {"next_token": predicted}, {"next_token": y}
        elif last_only:
            predicted = {head: p[:, -1:] for head, p in predicted.items()}
            y = {head: t[:, -1:] for head, t in y.items()}
        for head, probabilities in predicted.items():
            truth = np.asarray(y[head]).ravel()
            flat = np.asarray(probabilities).reshape(len(truth), -1)
            likelihood = np.maximum(flat[np.arange(len(truth)), truth], 1e-12)
            total = sums.setdefault(head, [0.0, 0.0, 0.0])
            total[0] -= float(np.log(likelihood).sum())
            total[1] += float((flat.argmax(axis=1) == truth).sum())
            total[2] += len(truth)
    return {head: {"loss": loss / n, "accuracy": right / n, "perplexity": math.exp(loss / n)}
            for head, (loss, right, n) in sums.items()}


def _baselines(run: Path, config: RunConfig, vocabulary: RunVocabulary, side: Side,
               targets: np.ndarray) -> dict | None:
    """Unigram and trigram refitted on the run's training side (its token files, or rebuilt
    from the catalog for a run without them); None when its catalog is gone."""
    from deeprock.training.train import run_data

    try:
        data = run_data(config, run, write=False)
    except (DataError, OSError, ValueError):
        return None
    if data.vocabulary != vocabulary:
        return None
    baseline = NgramBaseline.fit(data.train.ids, data.train.offsets, len(vocabulary))
    return baseline.perplexities(side.ids, side.offsets, targets)
