"""The artist judge: whose 8 bars of guitar are these? Gradient-boosted trees over
judge_features, trained offline on real songs (scripts/train_artist_judge.py), saved as JSON.

    judge = ArtistJudge.load(judge_path(catalog_path))
    judge.top_artists(riff, k=3)          # [("nirvana", 0.41), ("green_day", 0.18), ...]

A riff (or a track) longer than 8 bars is cut into 8-bar windows and judged by the mean of its
windows' probabilities; a shorter one is one window. It exists to tell whether a riff generated
"in the style of" an artist is recognisably that artist; its ceiling, on windows of songs it
never saw, is in bench/RESULTS.md ("Artist judge").
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeprock.atomic import read_json, write_atomic
from deeprock.generation.judge_features import FEATURE_NAMES, Window, cut_windows, window_features
from deeprock.generation.riff import Riff
from deeprock.music.trees import Trees, check_header

MODEL_FORMAT, MODEL_VERSION = "deeprock-artist-judge", 1


class JudgeError(ValueError):
    """The judge file is missing, broken, or of features this code does not compute."""


def judge_path(catalog_path: str | os.PathLike) -> Path:
    """Where the training script saves a catalog's judge by default: beside the catalog."""
    return Path(catalog_path).with_suffix(".judge.json")


@dataclass(frozen=True, eq=False)
class ArtistJudge:
    artists: tuple[str, ...]
    baseline: np.ndarray  # raw score per artist (one for two artists: scikit-learn's binary)
    trees: Trees
    info: dict = field(default_factory=dict)  # how it was trained and how well it did

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Rows of features (FEATURE_NAMES) to rows of artist probabilities."""
        raw = self.trees.raw(features, self.baseline)
        if raw.shape[1] == 1:
            positive = 1.0 / (1.0 + np.exp(-raw))
            return np.hstack((1.0 - positive, positive))
        raw = raw - raw.max(axis=1, keepdims=True)
        exp = np.exp(raw)
        return exp / exp.sum(axis=1, keepdims=True)

    def judge(self, riff_or_window: Riff | Window) -> np.ndarray:
        """One probability per artist: a window's own, or the mean over a riff's windows."""
        windows = [riff_or_window] if isinstance(riff_or_window, Window) else cut_windows(
            riff_or_window.onsets_twelfths(), riff_or_window.chords(),
            riff_or_window.duration_twelfths, short_ok=True)
        if not windows:
            raise JudgeError("nothing to judge: the riff sounds no note")
        return self.probabilities(np.array([window_features(w) for w in windows])).mean(axis=0)

    def top_artists(self, riff_or_window: Riff | Window, k: int = 3) -> list[tuple[str, float]]:
        """The k likeliest artists, likeliest first, with their probabilities."""
        probability = self.judge(riff_or_window)
        order = np.argsort(-probability, kind="stable")[:k]
        return [(self.artists[i], float(probability[i])) for i in order]

    def to_dict(self) -> dict:
        return {"format": MODEL_FORMAT, "version": MODEL_VERSION,
                "feature_names": list(FEATURE_NAMES), "artists": list(self.artists),
                "baseline": self.baseline.tolist(), **self.trees.to_dict(), "info": self.info}

    @classmethod
    def from_dict(cls, data: dict) -> ArtistJudge:
        problem = check_header(data, MODEL_FORMAT, MODEL_VERSION, FEATURE_NAMES,
                               "scripts/train_artist_judge.py")
        if problem:
            raise JudgeError(problem)
        try:
            artists = tuple(str(a) for a in data["artists"])
            baseline = np.asarray(data["baseline"], np.float64).ravel()
            trees = Trees.from_dict(data, len(FEATURE_NAMES))
        except (KeyError, TypeError, ValueError) as error:
            raise JudgeError(f"judge unreadable: {error}") from error
        if len(artists) < 2 or len(baseline) != (1 if len(artists) == 2 else len(artists)) \
                or len(trees.roots) % len(baseline):
            raise JudgeError(f"{len(artists)} artists do not match {len(baseline)} baseline "
                             f"scores and {len(trees.roots)} trees")
        return cls(artists, baseline, trees, dict(data.get("info", {})))

    def save(self, path: str | os.PathLike) -> None:
        write_atomic(path, json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> ArtistJudge:
        """Read and check a judge file; every problem is a JudgeError naming the file."""
        try:
            return cls.from_dict(read_json(path, "artist judge"))
        except ValueError as error:
            raise JudgeError(f"{path}: {error}" if str(path) not in str(error)
                             else str(error)) from error


def catalog_judge(catalog_path: str | os.PathLike) -> ArtistJudge | None:
    """The judge saved beside a catalog, or None when it has none (its statistics row is then
    left out); a broken file is a JudgeError."""
    path = judge_path(catalog_path)
    return ArtistJudge.load(path) if path.is_file() else None


def judge_rows(judge: ArtistJudge | None, riff: Riff) -> list[dict]:
    """The riff statistics' row: the judge's top 3 artists for the generated part (no row
    without a judge, or for a part that sounds no note)."""
    if judge is None:
        return []
    try:
        top = judge.top_artists(riff.generated(), k=3)
    except JudgeError:
        return []
    ceiling = (judge.info.get("held_out_scores") or {}).get("top1")
    return [{"figure": "sounds like (artist judge, top 3)",
             "riff": ", ".join(f"{artist} {probability:.0%}" for artist, probability in top),
             "dataset": (f"judge's top-1 on unseen songs: {ceiling:.2f}"
                         if isinstance(ceiling, float) else "-")}]
