"""A run model's weights read straight from its .keras archive: no TensorFlow, no Keras.

    saved = read_keras_weights("models/demo/best.keras")
    saved.weights["lstm_0"]         # [kernel, recurrent kernel, bias], as layer.get_weights()
    saved.configs["scale"]          # the layer's config (Normalization's mean and variance)
    saved.model_name                # "deeprock" | "seed"

Why: importing TensorFlow and rebuilding the Keras model took ~7 s of the command line's 8 s,
only to hand the arrays to numpy (inference.py). A .keras file is a zip of config.json and
model.weights.h5; in the h5 each layer's group holds its own variables under `vars/0..n` and its
sublayers (an LSTM's cell, MultiHeadAttention's query/key/value/output denses) as child groups,
and `vars` carries the layer's name. tests/test_generate.py checks the arrays equal Keras' own.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Keras saves sublayers sorted by attribute name, but get_weights() lists them in the order the
# layer created them: the composite layers whose two orders differ, in get_weights() order.
SUBLAYER_ORDER = {"MultiHeadAttention": ("query_dense", "key_dense", "value_dense",
                                         "output_dense")}


class WeightsError(ValueError):
    """An archive these readers cannot use: the message names the file and the reason."""


@dataclass
class SavedWeights:
    model_name: str
    weights: dict[str, list[np.ndarray]]  # layer name -> arrays in layer.get_weights() order
    configs: dict[str, dict]  # layer name -> {"class_name": ..., **its config}


def read_keras_weights(path: str | Path) -> SavedWeights:
    """Every top-level layer's weights and config from a .keras archive."""
    import h5py

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            weights_bytes = archive.read("model.weights.h5")
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise WeightsError(f"{path} is not a readable .keras archive ({error})") from error
    configs = _layer_configs(config, path)
    with h5py.File(io.BytesIO(weights_bytes), "r") as store:
        weights = {}
        for group in store.get("layers", {}).values():
            name = _layer_name(group, path)
            weights[name] = _group_weights(group, configs.get(name, {}).get("class_name"))
    return SavedWeights(config.get("config", {}).get("name", ""), weights, configs)


def _layer_configs(config: dict, path) -> dict[str, dict]:
    try:
        layers = config["config"]["layers"]
    except (KeyError, TypeError) as error:
        raise WeightsError(f"{path}: config.json describes no functional model") from error
    return {layer["name"]: {"class_name": layer["class_name"], **layer["config"]}
            for layer in layers}


def _layer_name(group, path) -> str:
    own = group.get("vars")
    if own is None or "name" not in own.attrs:
        raise WeightsError(f"{path}: layer group {group.name} has no name (saved by a Keras "
                           "older than 3.x?)")
    name = own.attrs["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def _group_weights(group, class_name: str | None) -> list[np.ndarray]:
    """A layer's own variables, then its sublayers' (recursively), as get_weights() lists them."""
    own = group.get("vars", {})
    arrays = [np.asarray(own[str(i)]) for i in range(len(own))]
    children = [key for key in group if key != "vars"]
    first = [key for key in SUBLAYER_ORDER.get(class_name, ()) if key in children]
    for key in first + sorted(set(children) - set(first)):
        arrays += _group_weights(group[key], None)  # the h5 keeps no sublayer's class
    return arrays


EMBEDDINGS = ("token", "delta", "duration", "position", "artist")  # models._joined_inputs'


def folded_inputs(saved: SavedWeights, kernel: np.ndarray) -> dict[str, np.ndarray]:
    """Each embedding the model has (EMBEDDINGS, in order) times its rows of the kernel that
    reads their concatenation: one table per input, looked up instead of multiplied."""
    tables = {name: np.asarray(saved.weights[f"{name}_embedding"][0], np.float32)
              for name in EMBEDDINGS if f"{name}_embedding" in saved.weights}
    folded, row = {}, 0
    for name, table in tables.items():
        folded[name] = table @ kernel[row:row + table.shape[1]]
        row += table.shape[1]
    return folded
