"""Does a conditioned run use its artist? Next-token perplexity on each artist's unseen songs
fed with the right artist id, with "any" (0) and with another artist's id.

    .venv/bin/python bench/bench_artist_conditioning.py [--run models/styles] [--artists 3]
        [--max-windows 200] [--compare models/general models/nirvana ...]

The run must be trained with --condition artist and --split-by artist-songs (so each artist
has held-out songs). Windows: the run's non-overlapping validation windows of the artist's
tracks, every position scored, as the run's val_loss is. "other artist": the largest artist
that is not this one. --compare: other runs of the same vocabulary (an unconditioned run, runs
fine-tuned with --artists) scored on the same windows, each a column (a fine-tuned run only on
the artists it was tuned on; a conditioned one with the artist's id). Prints a markdown table;
skipped (exit 0) without a conditioned run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deeprock.training import runs
from deeprock.training.conditioning import (
    ANY,
    OTHER,
    ArtistTable,
    artist_inputs,
    window_artists,
)
from deeprock.training.config import RunConfig
from deeprock.training.evaluate import score
from deeprock.training.train import run_data, validation_starts


def artist_perplexity(model, data, starts: np.ndarray, config: RunConfig,
                      artist: int | None) -> float:
    """Next-token perplexity of the validation windows at `starts`, every track fed as
    `artist` (None: a run without conditioning; evaluate.score, as `deeprock evaluate`)."""
    every_track = None if artist is None else np.full(len(data.validation.keys), artist,
                                                      np.int32)
    return score(model, data.validation, starts, config.data.seq_len, config.model,
                 artists=every_track)["next_token"]["perplexity"]


def compared(folder: Path, vocabulary) -> tuple:
    """(model, config, artist ids or None) of a run scored beside the conditioned one; its
    vocabulary must be the same, or the windows' ids would mean other tokens."""
    from deeprock.training.models import load_model, takes_artists

    files = runs.read_run(folder)
    if files.vocabulary.tokens != vocabulary.tokens:
        raise SystemExit(f"{folder}: another vocabulary than the conditioned run's")
    table = ArtistTable.load(folder / runs.ARTISTS) if takes_artists(files.config.model) else None
    return load_model(str(folder / runs.BEST)), files.config, table


def compare_cell(run: tuple, name: str, data, starts: np.ndarray) -> str:
    model, config, table = run
    if config.data.artists and name not in config.data.artists:
        return "—"
    artist = None if table is None else table.input_id(name)
    return f"{artist_perplexity(model, data, starts, config, artist):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", default="models/styles", help="a conditioned run folder")
    parser.add_argument("--artists", type=int, default=3, help="the N largest artists")
    parser.add_argument("--max-windows", type=int, default=200, help="per artist")
    parser.add_argument("--compare", nargs="*", default=[], type=Path, help="runs beside it")
    args = parser.parse_args()
    from deeprock.training.models import load_model

    run = Path(args.run)
    if not (run / runs.ARTISTS).is_file() or not (run / runs.BEST).is_file():
        print(f"skipped: no conditioned run at {run}; train one first, e.g. deeprock train "
              "--catalog CATALOG "
              f"--condition artist --split-by artist-songs --out {run}")
        return
    config = RunConfig.load(run / runs.CONFIG)
    data = run_data(config, run, write=False)
    inputs = artist_inputs(config, data, run)
    table = inputs.table
    model = load_model(str(run / runs.BEST))
    starts = validation_starts(data.validation_starts, config)
    window_ids = window_artists(data.validation.offsets, inputs.validation, starts)
    largest = sorted((name for name in table.ids if name not in (ANY, OTHER)),
                     key=lambda name: -table.files[name])
    others = [compared(folder, data.vocabulary) for folder in args.compare]
    print("| artist (files) | windows | right id | any (0) | other artist's id |"
          + "".join(f" {folder} |" for folder in args.compare))
    print("| --- | --- | --- | --- | --- |" + " --- |" * len(others))
    for name in largest[:args.artists]:
        own = starts[window_ids == table.ids[name]][:args.max_windows]
        other = next(artist for artist in largest if artist != name)
        scores = [artist_perplexity(model, data, own, config, table.ids[artist])
                  for artist in (name, ANY, other)]
        print(f"| {name} ({table.files[name]}) | {len(own)} | {scores[0]:.2f} | "
              f"{scores[1]:.2f} | {scores[2]:.2f} ({other}) |"
              + "".join(f" {compare_cell(run, name, data, own)} |" for run in others))


if __name__ == "__main__":
    main()
