"""Is this track a guitar? Metadata first (GM program, then a telling name), else the notes.

    decision = decide(song, track)  # .guitar, .source "metadata" | "inferred", .probability
    decision.suspicious             # metadata says guitar, the notes say otherwise

A track without a program or telling name is judged by a small ensemble of regression trees over
guitar_features.track_features. The trees are trained offline (scripts/train_guitar_model.py)
and shipped as JSON beside this module; they are evaluated here with numpy alone.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeprock.music.guitar_features import FEATURE_NAMES, track_features
from deeprock.music.midi import Song, Track
from deeprock.music.trees import Trees, TreesError, check_header

# GM nylon, steel, jazz, clean, muted, overdriven, distortion, harmonics
GUITAR_PROGRAMS = range(24, 32)
# guitar in the languages of the collection, and the usual abbreviations ("Gtr", "Git.")
GUITAR_NAME = re.compile(r"guit|gtr|gitar|gitaar|git\b|chitarr|guitarra", re.IGNORECASE)
BASS_NAME = re.compile(r"bass|bajo|basso", re.IGNORECASE)  # "Bass Guitar" is no guitar part
MODEL_PATH = Path(__file__).with_name("guitar_model.json")
MODEL_FORMAT, MODEL_VERSION = "deeprock-guitar-trees", 1
INFERRED_THRESHOLD = 0.4  # best F1 on unseen artists in scripts/train_guitar_model.py
# a metadata guitar whose notes give less than this is flagged for review, never overruled:
# a drum pattern, a bass line or a piano part under a guitar program
SUSPICIOUS_BELOW = 0.1


class GuitarModelError(ValueError):
    """The model file is missing or not one this code can evaluate."""


@dataclass(frozen=True)
class GuitarDecision:
    guitar: bool
    source: str | None  # "metadata" | "inferred" | None (undecided: no metadata, no inference)
    probability: float
    reason: str
    notes_probability: float | None = None  # what the notes say of a metadata guitar

    @property
    def suspicious(self) -> bool:
        return is_suspicious(self.source, self.guitar, self.notes_probability)


def is_suspicious(source: str | None, guitar: bool, notes_probability: float | None) -> bool:
    """A guitar by metadata that its notes contradict: the one rule, which the catalog's query
    calls too (Catalog.missing_metadata registers it with SQLite)."""
    return (source == "metadata" and bool(guitar) and notes_probability is not None
            and notes_probability < SUSPICIOUS_BELOW)


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """Gradient-boosted trees over track_features: P(guitar) = sigmoid(baseline + leaves)."""

    feature_names: tuple[str, ...]
    baseline: float
    trees: Trees
    info: dict = field(default_factory=dict)  # how it was trained and how well it did

    def probability(self, features: np.ndarray) -> float:
        raw = float(self.trees.raw(features, np.array([self.baseline]))[0, 0])
        return float(1.0 / (1.0 + np.exp(-raw)))

    def to_dict(self) -> dict:
        return {"format": MODEL_FORMAT, "version": MODEL_VERSION,
                "feature_names": list(self.feature_names), "baseline": self.baseline,
                **self.trees.to_dict(), "info": self.info}

    @classmethod
    def from_dict(cls, data: dict) -> TreeEnsemble:
        problem = check_header(data, MODEL_FORMAT, MODEL_VERSION, FEATURE_NAMES,
                               "scripts/train_guitar_model.py")
        if problem:
            raise GuitarModelError(problem)
        if tuple(data.get("feature_names", ())) != FEATURE_NAMES:
            raise GuitarModelError("the model's feature names differ from guitar_features: "
                                   "retrain with scripts/train_guitar_model.py")
        try:
            return cls(FEATURE_NAMES, float(data["baseline"]),
                       Trees.from_dict(data, len(FEATURE_NAMES)), info=data.get("info", {}))
        except (KeyError, TypeError, ValueError) as error:
            raise GuitarModelError(str(error) if isinstance(error, TreesError)
                                   else f"model arrays unreadable: {error!r}") from error


def load_model(path: str | Path = MODEL_PATH) -> TreeEnsemble:
    """Read and check a model file; every problem is a GuitarModelError naming the file."""
    try:
        return TreeEnsemble.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, GuitarModelError) as error:
        raise GuitarModelError(f"{path}: {error}") from error


@functools.cache
def shipped_model() -> TreeEnsemble:
    """The model beside this module, read once per process."""
    return load_model(MODEL_PATH)


def by_metadata(track: Track) -> GuitarDecision:
    """Program 24-31 on a non-drum channel; a guitar-like name only when no program is set."""
    if track.is_drum:
        return GuitarDecision(False, "metadata", 0.0, "drum channel 10")
    if track.program is not None:
        guitar = track.program in GUITAR_PROGRAMS
        return GuitarDecision(guitar, "metadata", float(guitar), f"GM program {track.program}")
    if GUITAR_NAME.search(track.name) and not BASS_NAME.search(track.name):
        return GuitarDecision(True, "metadata", 1.0, f"no program; track name {track.name!r}")
    return GuitarDecision(False, None, 0.0, "no program and no telling name")


def infer(song: Song, track: Track, model: TreeEnsemble | None = None) -> GuitarDecision:
    """Judge a track by its notes alone (drums stay drums: their notes are not pitches)."""
    if track.is_drum:
        return by_metadata(track)
    model = model if model is not None else shipped_model()
    probability = model.probability(track_features(song, track))
    return GuitarDecision(probability >= INFERRED_THRESHOLD, "inferred", probability,
                          f"inferred from the notes: p={probability:.2f}")


def decide(song: Song, track: Track) -> GuitarDecision:
    """The guitar decision for a track: metadata when it has any, the notes otherwise.

    A metadata guitar also gets the notes' probability, so that a contradiction can be shown.
    """
    decision = by_metadata(track)
    if decision.source is None:
        return infer(song, track)
    if decision.guitar:
        return dataclasses.replace(decision,
                                   notes_probability=infer(song, track).probability)
    return decision
