"""Gradient-boosted trees as flat JSON arrays, evaluated with numpy alone (no pickle, no
scikit-learn at run time): the guitar model's and the artist judge's one evaluator.

    trees = Trees.from_dict(data)            # roots, feature, split, left, right, value
    trees.raw(rows, baseline)                # (rows, classes) raw scores: sigmoid or softmax them
    trees, baseline = from_sklearn(model)    # offline, from a fitted HistGradientBoosting model

An internal node sends a sample left when feature <= split; a leaf has left = right = -1 and
carries its value. Children come after their parent, so there are no cycles. Tree t adds to
class t % classes (scikit-learn fits one tree per class per iteration).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

TREE_FIELDS = ("feature", "split", "left", "right", "value")


class TreesError(ValueError):
    """The arrays do not make trees this module can evaluate."""


@dataclass(frozen=True, eq=False)
class Trees:
    roots: np.ndarray
    feature: np.ndarray
    split: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    features: int  # how many features a row has

    def __post_init__(self) -> None:
        check(self)

    def raw(self, rows: np.ndarray, baseline: np.ndarray) -> np.ndarray:
        """Raw scores (rows x classes): baseline plus the leaves reached, walking every tree of
        every row at once, one level per step (a leaf points at itself)."""
        rows = np.atleast_2d(np.asarray(rows, np.float64))
        classes = len(baseline)
        node = np.broadcast_to(self.roots, (len(rows), len(self.roots)))
        picked = np.arange(len(rows))[:, None]
        for _ in range(self._depth):
            go_left = rows[picked, self.feature[node]] <= self.split[node]
            node = np.where(go_left, self._left[node], self._right[node])
        leaves = self.value[node].reshape(len(rows), -1, classes)
        return np.asarray(baseline, np.float64) + leaves.sum(axis=1)

    @functools.cached_property
    def _left(self) -> np.ndarray:
        return np.where(self.left < 0, np.arange(len(self.left)), self.left)

    @functools.cached_property
    def _right(self) -> np.ndarray:
        return np.where(self.right < 0, np.arange(len(self.right)), self.right)

    @functools.cached_property
    def _depth(self) -> int:
        depth, level = 0, self.roots
        while (level := level[self.left[level] >= 0]).size:
            level = np.concatenate((self.left[level], self.right[level]))
            depth += 1
        return depth

    def to_dict(self) -> dict:
        return {"roots": self.roots.tolist(),
                **{name: getattr(self, name).tolist() for name in TREE_FIELDS}}

    @classmethod
    def from_dict(cls, data: dict, features: int) -> Trees:
        try:
            integers = {name: np.asarray(data[name], np.int64)
                        for name in ("roots", "feature", "left", "right")}
            floats = {name: np.asarray(data[name], np.float64) for name in ("split", "value")}
        except (KeyError, TypeError, ValueError) as error:
            raise TreesError(f"model arrays unreadable: {error!r}") from error
        return cls(**integers, **floats, features=features)


def check(trees: Trees) -> None:
    """Shapes and indices that make raw() safe: each node's children follow it."""
    nodes = len(trees.feature)
    if any(getattr(trees, name).shape != (nodes,) for name in TREE_FIELDS):
        raise TreesError("model node arrays differ in length or are not flat")
    if trees.roots.ndim != 1 or not trees.roots.size:
        raise TreesError("model has no trees")
    internal = trees.left >= 0
    index = np.arange(nodes)
    valid = (
        np.all((trees.roots >= 0) & (trees.roots < nodes))
        and np.array_equal(internal, trees.right >= 0)
        and np.all((trees.left[internal] > index[internal]) & (trees.left[internal] < nodes))
        and np.all((trees.right[internal] > index[internal]) & (trees.right[internal] < nodes))
        and np.all((trees.feature >= 0) & (trees.feature < trees.features))
        and np.all(np.isfinite(trees.value)) and not np.any(np.isnan(trees.split))
    )
    if not valid:
        raise TreesError("model trees are malformed (child, root or feature index)")


def check_header(data: object, model_format: str, version: int, feature_names: tuple,
                 script: str) -> str | None:
    """What is wrong with a saved model's header (its format, version and features), or
    None: both tree models refuse a file of another kind or age the same way."""
    if not isinstance(data, dict) or data.get("format") != model_format:
        return f"not a {model_format} model"
    if data.get("version") != version:
        return (f"model version {data.get('version')!r}, this code reads {version}: retrain "
                f"with {script}")
    if tuple(data.get("feature_names", ())) != feature_names:
        return f"the model's feature names differ from its features' code: retrain with {script}"
    return None


def boosted_classifier(settings):
    """scikit-learn's HistGradientBoostingClassifier from a training config's fields (offline
    only: the scripts train, the product reads the exported trees)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=settings.max_iter, learning_rate=settings.learning_rate,
        max_leaf_nodes=settings.max_leaf_nodes, min_samples_leaf=settings.min_samples_leaf,
        l2_regularization=settings.l2_regularization, early_stopping=False,
        random_state=settings.seed)


def from_sklearn(model) -> tuple[Trees, np.ndarray]:
    """A fitted HistGradientBoostingClassifier's trees and per-class baseline (offline only).

    It keeps its trees in _predictors (iterations x classes); the scripts compare raw() with
    its own predictions, since scikit-learn is pinned but not frozen forever.
    """
    arrays: dict[str, list] = {name: [] for name in TREE_FIELDS}
    roots = []
    for predictor in (p for iteration in model._predictors for p in iteration):
        nodes, offset = predictor.nodes, len(arrays["feature"])
        roots.append(offset)
        leaf = nodes["is_leaf"].astype(bool)
        arrays["feature"] += np.where(leaf, 0, nodes["feature_idx"]).tolist()
        arrays["split"] += np.where(leaf, 0.0, nodes["num_threshold"]).tolist()
        arrays["left"] += np.where(leaf, -1, nodes["left"].astype(np.int64) + offset).tolist()
        arrays["right"] += np.where(leaf, -1, nodes["right"].astype(np.int64) + offset).tolist()
        arrays["value"] += np.where(leaf, nodes["value"], 0.0).tolist()
    trees = Trees(np.array(roots), **{name: np.array(values) for name, values in arrays.items()},
                  features=int(model.n_features_in_))
    return trees, np.asarray(model._baseline_prediction, np.float64).ravel()
