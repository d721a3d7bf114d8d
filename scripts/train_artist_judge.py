"""Train the artist judge on a catalog's 8-bar guitar windows; report its ceiling; save JSON.

    .venv/bin/python scripts/train_artist_judge.py --catalog /tmp/deeprock.sqlite
        [--out CATALOG.judge.json] [--min-files 20] [--held-out 0.25] [--largest 15]
        [--max-iter 200] [--seed 0] [--evaluate-only]

Artists are corpus/artists.py's (the rule beside the catalog); those with at least --min-files
files are judged. Songs are held out within each artist (training/split.py's "artist-songs":
duplicates and versions of a song stay on one side), so every artist is scored on windows of
songs the judge never saw: top-1 and top-5 per window, and top-1 by the mean of a song's
windows. The report is markdown (bench/RESULTS.md, "Artist judge"). The saved judge is fitted on
the training side only, so its recorded figures are its own; its trees are checked against
scikit-learn's probabilities. scikit-learn is a dev dependency only: the app reads the JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from deeprock.corpus.artists import file_artists
from deeprock.corpus.catalog import Catalog
from deeprock.generation.judge import ArtistJudge, judge_path
from deeprock.generation.judge_features import cut_windows, window_features
from deeprock.generation.stats import vocabulary_pitches
from deeprock.music.trees import boosted_classifier, from_sklearn
from deeprock.training.split import DataSettings, split_files


@dataclass(frozen=True)
class JudgeConfig:
    """Everything that decides the judge; saved inside the JSON it produces."""

    min_files: int = 20
    held_out: float = 0.25
    seed: int = 0
    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 20
    l2_regularization: float = 1.0

    def classifier(self):
        return boosted_classifier(self)


@dataclass
class WindowSet:
    features: np.ndarray  # one row per 8-bar window
    artist: np.ndarray  # index into the artists
    file: np.ndarray  # the catalog file (the song) each window came from
    held_out: np.ndarray  # bool: a window of a held-out song


def window_set(catalog: Catalog, config: JudgeConfig) -> tuple[list[str], WindowSet]:
    """The judged artists, and every window of their guitar tracks, split by song."""
    artists = file_artists(catalog)
    files = Counter(artists.values())
    judged = sorted(a for a, count in files.items() if count >= config.min_files)
    if len(judged) < 2:
        raise SystemExit(f"{catalog.path}: {len(judged)} artist(s) with {config.min_files} "
                         "files or more: lower --min-files")
    index = {artist: i for i, artist in enumerate(judged)}
    streams = [s for s in catalog.streams() if artists[s.file_id] in index]
    held_out = split_files(catalog, {s.file_id for s in streams},
                           DataSettings(split_by="artist-songs", validation_share=config.held_out,
                                        split_seed=config.seed), catalog.file_keys())
    pitches = vocabulary_pitches(catalog.vocabulary.tokens)
    rows, labels, owners = [], [], []
    for stream in streams:
        for window in cut_windows(np.cumsum(stream.delta), [pitches[i] for i in stream.ids],
                                  stream.duration):
            rows.append(window_features(window))
            labels.append(index[artists[stream.file_id]])
            owners.append(stream.file_id)
    owners_array = np.array(owners)
    return judged, WindowSet(np.array(rows), np.array(labels), owners_array,
                             np.isin(owners_array, list(held_out)))


def fit(config: JudgeConfig, judged: list[str], data: WindowSet,
        info: dict) -> ArtistJudge:
    """Fitted on the training songs, exported, and checked against scikit-learn."""
    train = ~data.held_out
    model = config.classifier().fit(data.features[train], data.artist[train])
    if len(model.classes_) != len(judged):
        raise SystemExit("an artist has no training window: lower --held-out")
    trees, baseline = from_sklearn(model)
    judge = ArtistJudge(tuple(judged), baseline, trees, info)
    worst = float(np.abs(judge.probabilities(data.features)
                         - model.predict_proba(data.features)).max())
    if worst > 1e-9:
        raise SystemExit(f"exported trees disagree with scikit-learn by {worst:.3g}")
    return judge


def hits(probability: np.ndarray, truth: np.ndarray, k: int) -> np.ndarray:
    """Whether each row's true artist is among its k likeliest."""
    top = np.argsort(-probability, axis=1, kind="stable")[:, :k]
    return (top == truth[:, None]).any(axis=1)


def scores(judge: ArtistJudge, data: WindowSet) -> dict:
    """Top-1 and top-5 on held-out windows, and top-1 by song (the mean of its windows)."""
    part = data.held_out
    probability, truth, files = judge.probabilities(data.features[part]), data.artist[part], \
        data.file[part]
    songs = np.unique(files)
    song_probability = np.array([probability[files == f].mean(axis=0) for f in songs])
    song_truth = np.array([truth[files == f][0] for f in songs])
    one, five, vote = hits(probability, truth, 1), hits(probability, truth, 5), \
        hits(song_probability, song_truth, 1)
    per_artist = {
        artist: {"windows": int(np.sum(truth == i)), "songs": int(np.sum(song_truth == i)),
                 "top1": float(one[truth == i].mean()), "top5": float(five[truth == i].mean()),
                 "song_top1": float(vote[song_truth == i].mean())}
        for i, artist in enumerate(judge.artists) if np.any(truth == i)}
    return {"windows": int(part.sum()), "songs": len(songs), "top1": float(one.mean()),
            "top5": float(five.mean()), "song_top1": float(vote.mean()),
            "chance_top1": 1 / len(judge.artists), "chance_top5": min(5, len(judge.artists))
            / len(judge.artists), "per_artist": per_artist}


def report(result: dict, files: Counter, largest: int) -> None:
    print(f"\n{len(files)} artists, {result['windows']} held-out windows of {result['songs']} "
          f"unseen songs: top-1 {result['top1']:.3f}, top-5 {result['top5']:.3f} "
          f"(chance {result['chance_top1']:.3f} / {result['chance_top5']:.3f}); by song "
          f"(mean of its windows) top-1 {result['song_top1']:.3f}\n")
    print("| artist | files | held-out songs | windows | top-1 | top-5 | song top-1 |")
    print("|---|---|---|---|---|---|---|")
    for artist, count in files.most_common(largest):
        row = result["per_artist"].get(artist)
        if row:
            print(f"| {artist} | {count} | {row['songs']} | {row['windows']} | "
                  f"{row['top1']:.3f} | {row['top5']:.3f} | {row['song_top1']:.3f} |")


def main(argv: list[str] | None = None) -> int:
    with threadpool_limits(1):  # one core: the machine is shared, and the result is the same
        return _train(argv)


def _train(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--out", type=Path, help="default: beside the catalog (.judge.json)")
    parser.add_argument("--min-files", type=int, default=JudgeConfig.min_files)
    parser.add_argument("--held-out", type=float, default=JudgeConfig.held_out)
    parser.add_argument("--max-iter", type=int, default=JudgeConfig.max_iter)
    parser.add_argument("--seed", type=int, default=JudgeConfig.seed)
    parser.add_argument("--largest", type=int, default=15, help="artists in the table")
    parser.add_argument("--evaluate-only", action="store_true", help="report, write no judge")
    args = parser.parse_args(argv)
    config = JudgeConfig(min_files=args.min_files, held_out=args.held_out,
                         max_iter=args.max_iter, seed=args.seed)
    started = time.perf_counter()
    with Catalog(args.catalog) as catalog:
        judged, data = window_set(catalog, config)
        artists = file_artists(catalog)
    files = Counter(a for a in artists.values() if a in set(judged))
    windowed = time.perf_counter()
    judge = fit(config, judged, data, {"config": asdict(config)})
    fitted = time.perf_counter()
    result = scores(judge, data)
    report(result, files, args.largest)
    print(f"\nwindows and features {windowed - started:.1f} s, fit {fitted - windowed:.1f} s "
          f"({len(data.artist)} windows, {len(judge.trees.roots)} trees)")
    if not args.evaluate_only:
        out = args.out or judge_path(args.catalog)
        judge.info.update(held_out_scores=result, files=dict(files))
        judge.save(out)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
