"""Train the guitar-inference model and export it as JSON trees (no pickle).

    .venv/bin/python scripts/train_guitar_model.py [--corpus DIR]
        [--out deeprock/music/guitar_model.json]
        [--labels labels.json ...] [--groups base,role,fretboard] [--evaluate-only]

Labels come from the corpus's own metadata: every non-drum track whose program is known is a
guitar when the program is GM 24-31 (its program and name are never features). `--labels` adds
the tracks a user accepted or rejected on the Dataset health page (`deeprock labels --export`).
Cross-validation folds are grouped by artist (the folder above the song in letter/artist/song.mid),
so the figures are those of artists the model never saw; the report is printed as markdown, with
`--groups` measuring a subset of the feature groups. The final model is fitted on every labelled
track, checked against deeprock.music.guitar's numpy evaluator, and written. Seeds are fixed and
fitting is single-threaded: the same corpus gives the same JSON. scikit-learn is a dev
dependency only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import threadpool_limits

from deeprock.atomic import write_atomic
from deeprock.corpus import labels, scan
from deeprock.music import guitar, midi
from deeprock.music.guitar_features import FEATURE_GROUPS, FEATURE_NAMES, track_features
from deeprock.music.trees import boosted_classifier, from_sklearn

ROOT = Path(__file__).resolve().parents[1]
DRUM_MIN_NOTES = 16
SWEEP = (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the model; saved inside the JSON it produces."""

    folds: int = 5
    seed: int = 0
    max_iter: int = 300
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 20
    l2_regularization: float = 1.0
    # drum tracks, as if played on a melodic channel, can train as "not guitar" at this weight
    # (0: not at all). At 0.2 a drum pattern under a guitar program gets p ~0.03 instead of
    # ~0.4, but F1 on unseen artists drops 0.753 -> 0.749 and stripped music21 pieces are
    # taken for guitar more often (4 of 17 against 3): off by default (bench/RESULTS.md)
    drum_weight: float = 0.0

    def classifier(self):
        return boosted_classifier(self)


@dataclass
class LabelledSet:
    features: np.ndarray  # one row per track
    guitar: np.ndarray  # bool: program 24-31, or the user's label
    files: np.ndarray  # the file each track came from
    artists: np.ndarray  # the folder above each file: the cross-validation group
    tracks: list[str]  # "file #chunk ch program 'name'" for the report

    def __add__(self, other: LabelledSet) -> LabelledSet:
        return LabelledSet(*(np.concatenate((a, b)) for a, b in (
            (self.features, other.features), (self.guitar, other.guitar),
            (self.files, other.files), (self.artists, other.artists))),
            self.tracks + other.tracks)


def _make_set(rows: list, guitars: list, files: list[str], tracks: list[str]) -> LabelledSet:
    artists = [os.path.dirname(path) or path for path in files]
    return LabelledSet(np.array(rows).reshape(-1, len(FEATURE_NAMES)), np.array(guitars, bool),
                       np.array(files), np.array(artists), tracks)


def labelled_tracks(corpus: Path) -> tuple[LabelledSet, LabelledSet]:
    """Every non-drum track with a known program, from every MIDI file under corpus; and
    every drum track of 16 notes or more, labelled not guitar (training only)."""
    found: dict[bool, tuple[list, list, list, list]] = {False: ([], [], [], []),
                                                        True: ([], [], [], [])}
    for path in scan.find_midi_files(str(corpus), problems=[]):
        song = midi.load(corpus / path)
        for track in song.tracks:
            wanted = (len(track.notes) >= DRUM_MIN_NOTES if track.is_drum
                      else track.program is not None)
            if not wanted:
                continue
            rows, guitars, files, tracks = found[track.is_drum]
            rows.append(track_features(song, track))
            guitars.append(not track.is_drum and track.program in guitar.GUITAR_PROGRAMS)
            files.append(path)
            tracks.append(f"{path} #{track.index} ch{track.channel + 1} "
                          f"program {track.program} {track.name[:30]!r}")
    if not found[False][0]:
        raise SystemExit(f"{corpus}: no labelled tracks (no MIDI files with programs)")
    return _make_set(*found[False]), _make_set(*found[True])


def user_labelled_tracks(path: Path) -> LabelledSet:
    """The tracks of a `deeprock labels --export` file whose MIDI file is still where it was
    and still has the same bytes (the labels are keyed by content hash)."""
    try:
        entries = labels.read_export(path)
    except ValueError as error:
        raise SystemExit(str(error)) from error
    rows, guitars, files, tracks = [], [], [], []
    for entry in entries:
        file = entry.get("path") or ""
        try:
            data = Path(file).read_bytes()
        except OSError:
            continue
        if hashlib.md5(data).hexdigest() != entry["md5"]:
            continue
        song = midi.load_bytes(data, file)
        track = next((t for t in song.tracks if (t.index, t.channel) ==
                      (entry["index"], entry["channel"])), None)
        if track is not None and not track.is_drum:
            rows.append(track_features(song, track))
            guitars.append(entry["guitar"])
            files.append(file)
            tracks.append(f"{file} #{track.index} ch{track.channel + 1} user label")
    print(f"{path}: {len(rows)} of {len(entries)} user labels found on disk", file=sys.stderr)
    return _make_set(rows, guitars, files, tracks)


def cross_validate(data: LabelledSet, drums: LabelledSet, config: TrainConfig,
                   columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold P(guitar) for every track (folds grouped by artist), and each track's fold.
    Each fold also trains on the drum tracks of its training artists."""
    splitter = StratifiedGroupKFold(config.folds, shuffle=True, random_state=config.seed)
    probability, fold_of = np.zeros(len(data.guitar)), np.zeros(len(data.guitar), np.int64)
    for fold, (train, test) in enumerate(splitter.split(data.features, data.guitar,
                                                        data.artists)):
        drum_rows = np.isin(drums.artists, data.artists[train])
        model = fit(config, data.features[train][:, columns], data.guitar[train],
                    drums.features[drum_rows][:, columns])
        probability[test] = model.predict_proba(data.features[test][:, columns])[:, 1]
        fold_of[test] = fold
    return probability, fold_of


def fit(config: TrainConfig, features: np.ndarray, guitars: np.ndarray,
        drum_features: np.ndarray) -> HistGradientBoostingClassifier:
    if config.drum_weight <= 0:
        return config.classifier().fit(features, guitars)
    weights = np.concatenate((np.ones(len(guitars)), np.full(len(drum_features),
                                                             config.drum_weight)))
    return config.classifier().fit(np.vstack((features, drum_features)),
                                   np.concatenate((guitars, np.zeros(len(drum_features), bool))),
                                   sample_weight=weights)


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    hits = int(np.count_nonzero(truth & predicted))
    precision = hits / max(np.count_nonzero(predicted), 1)
    recall = hits / max(np.count_nonzero(truth), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"precision": round(float(precision), 4), "recall": round(float(recall), 4),
            "f1": round(float(f1), 4)}


def report(data: LabelledSet, probability: np.ndarray, fold_of: np.ndarray) -> dict:
    """Print the markdown tables; return the pooled scores at the model's threshold."""
    threshold = guitar.INFERRED_THRESHOLD
    predicted = probability >= threshold
    auc = round(float(roc_auc_score(data.guitar, probability)), 4)
    print(f"\n{len(data.guitar)} labelled tracks from {len(set(data.files))} files of "
          f"{len(set(data.artists))} artists, {np.count_nonzero(data.guitar)} guitars; "
          f"{fold_of.max() + 1} folds grouped by artist; guitar when p >= {threshold}\n")
    print("| fold | artists | files | tracks | guitars | precision | recall | F1 |")
    print("|---|---|---|---|---|---|---|---|")
    for fold in range(fold_of.max() + 1):
        part = fold_of == fold
        s = scores(data.guitar[part], predicted[part])
        print(f"| {fold + 1} | {len(set(data.artists[part]))} | {len(set(data.files[part]))} | "
              f"{np.count_nonzero(part)} | {np.count_nonzero(data.guitar[part])} | "
              f"{s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} |")
    pooled = scores(data.guitar, predicted)
    print(f"| all (out of fold) | {len(set(data.artists))} | {len(set(data.files))} | "
          f"{len(data.guitar)} | {np.count_nonzero(data.guitar)} | {pooled['precision']:.3f} | "
          f"{pooled['recall']:.3f} | {pooled['f1']:.3f} |")
    print(f"\nAUC (out of fold, unseen artists): {auc:.3f}\n")
    print("| threshold | precision | recall | F1 |\n|---|---|---|---|")
    for level in SWEEP:
        s = scores(data.guitar, probability >= level)
        print(f"| {level:.2f} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} |")
    _print_mistakes(data, probability)
    return {**pooled, "auc": auc, "threshold": threshold, "folds": int(fold_of.max() + 1),
            "split": "artist"}


def _print_mistakes(data: LabelledSet, probability: np.ndarray, count: int = 8) -> None:
    """The most confident mistakes: often tracks whose own name contradicts their program."""
    order = np.argsort(-probability, kind="stable")
    wrong_guitar = [i for i in order if not data.guitar[i]][:count]
    missed = [i for i in order[::-1] if data.guitar[i]][:count]
    for title, chosen in (("not guitar by program, p high", wrong_guitar),
                          ("guitar by program, p low", missed)):
        print(f"\n{title}:")
        for i in chosen:
            print(f"- p={probability[i]:.2f} {data.tracks[i]}")


def export(model: HistGradientBoostingClassifier, info: dict) -> guitar.TreeEnsemble:
    """The fitted trees as the flat arrays guitar reads (deeprock.music.trees)."""
    trees, baseline = from_sklearn(model)
    return guitar.TreeEnsemble(FEATURE_NAMES, float(baseline[0]), trees, info=info)


def check_export(ensemble: guitar.TreeEnsemble, model: HistGradientBoostingClassifier,
                 features: np.ndarray) -> None:
    """The numpy evaluator must give scikit-learn's probabilities, to rounding."""
    ours = np.array([ensemble.probability(row) for row in features])
    theirs = model.predict_proba(features)[:, 1]
    worst = float(np.abs(ours - theirs).max())
    if worst > 1e-9:
        raise SystemExit(f"exported trees disagree with scikit-learn by {worst:.3g}")


def write_json(path: Path, data: dict) -> None:
    """Through a temporary file, so a crash never leaves half a model."""
    write_atomic(path, json.dumps(data, separators=(",", ":")) + "\n")


def _columns(groups: str) -> np.ndarray:
    names = [name for group in groups.split(",") for name in FEATURE_GROUPS.get(group.strip(), ())]
    unknown = [g for g in groups.split(",") if g.strip() not in FEATURE_GROUPS]
    if unknown:
        raise SystemExit(f"unknown feature groups {unknown}: choose from {list(FEATURE_GROUPS)}")
    return np.array([FEATURE_NAMES.index(name) for name in names])


def main(argv: list[str] | None = None) -> int:
    with threadpool_limits(1):  # one core: the machine is shared, and the result is the same
        return _train(argv)


def _train(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpus/deeprock")
    parser.add_argument("--out", type=Path, default=ROOT / "deeprock/music/guitar_model.json")
    parser.add_argument("--labels", type=Path, nargs="*", default=[],
                        help="user labels exported with deeprock labels --export")
    parser.add_argument("--groups", default=",".join(FEATURE_GROUPS),
                        help=f"feature groups to cross-validate ({', '.join(FEATURE_GROUPS)})")
    parser.add_argument("--drum-weight", type=float, default=TrainConfig.drum_weight,
                        help="train on drum tracks as 'not guitar' at this sample weight")
    parser.add_argument("--evaluate-only", action="store_true", help="report, write no model")
    args = parser.parse_args(argv)
    config = TrainConfig(drum_weight=args.drum_weight)
    data, drums = labelled_tracks(args.corpus)
    for path in args.labels:
        data = data + user_labelled_tracks(path)
    columns = _columns(args.groups)
    probability, fold_of = cross_validate(data, drums, config, columns)
    cross_validation = report(data, probability, fold_of)
    if args.evaluate_only:
        return 0
    if len(columns) != len(FEATURE_NAMES):
        raise SystemExit("the shipped model reads every feature group: drop --groups to write it")
    model = fit(config, data.features, data.guitar, drums.features)
    info = {"config": asdict(config), "cross_validation": cross_validation,
            "tracks": len(data.guitar), "guitar_tracks": int(np.count_nonzero(data.guitar)),
            "drum_tracks": len(drums.guitar),
            "files": len(set(data.files))}
    ensemble = export(model, info)
    check_export(ensemble, model, data.features)
    write_json(args.out, ensemble.to_dict())
    print(f"\nwrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, "
          f"{len(ensemble.trees.roots)} trees, {len(ensemble.trees.feature)} nodes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
