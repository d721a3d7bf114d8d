"""Training data pipeline against the post's: peak memory, and the seed network's samples/s.

    python bench/bench_training.py [--catalog data/demo.sqlite] [--percents 5 10 20]

The post's pipeline (its create_training_data) holds every window as float64 X (n, seq_len, 1)
and a one-hot float64 Y (n, vocabulary). Ours keeps int32 tokens and gathers each batch on the
fly with sparse targets. Peak memory is measured with tracemalloc (numpy reports its buffers to
it), so both figures count the same allocations. Throughput: the same seed network, batch 64,
fed by the post's arrays (categorical cross-entropy on one-hot Y) and by our PyDataset (sparse).
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import tracemalloc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from deeprock.corpus.catalog import Catalog
from deeprock.training.split import DataSettings, build_training_data

SEQ_LEN, UNIQUE_FACTOR = 100, 13


def posts_pipeline(streams: list[np.ndarray], percent: float) -> tuple[np.ndarray, np.ndarray]:
    """The post's create_training_data on catalog ids: tokens of all tracks concatenated, the
    first data_percent of them, every window with > unique_factor distinct kept, X scaled."""
    data = np.concatenate([s[: len(s) // SEQ_LEN * SEQ_LEN] for s in streams])
    end = int(len(data) * percent / 100)
    classes, encoded = np.unique(data, return_inverse=True)
    xs, ys = [], []
    for i in range(end - SEQ_LEN):
        window = encoded[i:i + SEQ_LEN]
        if len(np.unique(window)) > UNIQUE_FACTOR:
            xs.append(window.reshape(-1, 1).astype(np.float64))
            ys.append(encoded[i + SEQ_LEN])
    x = np.array(xs)
    del xs
    x = (x - x.mean()) / x.std()
    y = np.zeros((len(ys), len(classes)), dtype=np.float64)
    y[np.arange(len(ys)), ys] = 1.0
    return x, y


def ours(catalog_path: str, percent: float):
    from deeprock.training.batches import WindowBatches

    with Catalog(catalog_path) as catalog:
        data = build_training_data(catalog, DataSettings(
            seq_len=SEQ_LEN, unique_factor=UNIQUE_FACTOR, data_percent=percent,
            validation_share=0.0))
    batches = WindowBatches(data.train, data.train_starts, SEQ_LEN, 64, "seed")
    for index in range(len(batches)):  # one epoch's batches, as fit would draw them
        batches[index]
    return data, batches


def peak_mb(function, *args) -> tuple[float, object]:
    gc.collect()
    tracemalloc.start()
    result = function(*args)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return peak, result


def memory_table(catalog_path: str, percents: list[float]) -> None:
    import keras  # noqa: F401  (loaded before measuring: the libraries are not the data)

    ours(catalog_path, 1.0)  # and the compiled window counts loaded once, untraced

    with Catalog(catalog_path) as catalog:
        _, streams = catalog.token_ids()
    print("| data_percent | windows | post's pipeline MB | ours MB | ratio |")
    print("|---|---|---|---|---|")
    for percent in percents:
        theirs, (x, y) = peak_mb(posts_pipeline, streams, percent)
        windows = len(x)
        del x, y
        mine, _ = peak_mb(ours, catalog_path, percent)
        print(f"| {percent:g} | {windows:,} | {theirs:,.0f} | {mine:,.1f} "
              f"| {theirs / mine:,.0f}x |")


def throughput_table(catalog_path: str, percent: float, batches_to_time: int) -> None:
    import keras

    from deeprock.training.models import ModelSettings, build_model

    with Catalog(catalog_path) as catalog:
        _, streams = catalog.token_ids()
    x, y = posts_pipeline(streams, percent)
    data, batches = ours(catalog_path, percent)
    rows = []
    for name in ("post's arrays", "our PyDataset", "post's arrays", "our PyDataset"):
        model = build_model(ModelSettings(arch="seed"), y.shape[1] if "post" in name
                            else len(data.vocabulary), SEQ_LEN)
        if "post" in name:
            model.compile(optimizer=keras.optimizers.Adam(1e-3),
                          loss="categorical_crossentropy")
            count = batches_to_time * 64
            model.fit(x[:128], y[:128], batch_size=64, verbose=0)  # compile outside the clock
            began = time.perf_counter()
            model.fit(x[:count], y[:count], batch_size=64, verbose=0)
        else:
            model.train_on_batch(*batches[0])
            batches.order = batches.order[: batches_to_time * 64]
            began = time.perf_counter()
            model.fit(batches, verbose=0)
            count = batches.windows
        rows.append((name, count / (time.perf_counter() - began)))
    print("| feed | samples/s (seed network, batch 64) |")
    print("|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="data/demo.sqlite")
    parser.add_argument("--percents", type=float, nargs="+", default=[25, 50, 100])
    parser.add_argument("--throughput-percent", type=float, default=2.0)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--only", choices=("memory", "throughput"))
    args = parser.parse_args()
    print(f"catalog {args.catalog}, seq_len {SEQ_LEN}, unique_factor {UNIQUE_FACTOR}")
    if args.only != "throughput":
        memory_table(args.catalog, args.percents)
    if args.only != "memory":
        throughput_table(args.catalog, args.throughput_percent, args.batches)


if __name__ == "__main__":
    main()
