"""Training data RSS, in memory against memory-mapped token files, at 10M and 100M tokens.

    .venv/bin/python bench/bench_token_files.py [--tokens 10000000 100000000] [--batches 200]

A synthetic catalog per size, written through Catalog.put_file as bench_health_page does: files
of one 5,000-token guitar track made of repeated riffs, in 200 artist folders (the split is by
artist, so the duplicate search, bench_dedup_scale's subject, stays out of the figures). Each
measurement is a fresh process that sets up a run's data (build_training_data, or
train.run_data writing then reusing the token files), writes the run inputs (rhythm counts,
trigram baselines) and trains a tiny deeprock model for `--batches` batches. A sampler reads
/proc/self/status every 20 ms: peak anonymous RSS (memory the process owns) and peak file-backed
RSS (mapped pages of the token files, page cache the kernel can take back).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRACK_TOKENS, ARTISTS, SEQ_LEN = 5000, 200, 64


def record(rng: np.random.Generator, number: int, names: list[str]) -> dict:
    riffs = [np.tile(rng.integers(0, len(names), rng.integers(6, 24)), 400)[:500]
             for _ in range(TRACK_TOKENS // 500)]
    ids = np.concatenate(riffs).astype("<i4")
    track = {"idx": 1, "channel": 0, "is_drum": False, "notes": len(ids), "pitch_min": 40,
             "pitch_max": 76, "polyphony": 1.2, "name": "Guitar", "notes_probability": None,
             "program": 30, "guitar": True, "guitar_source": "metadata",
             "guitar_probability": 1.0, "guitar_reason": "synthetic"}
    stream = {"idx": 1, "channel": 0, "names": names, "ids": ids,
              "delta": rng.integers(0, 12, len(ids)).astype("<i4"),
              "duration": rng.integers(1, 24, len(ids)).astype("<i4"),
              "position": np.arange(len(ids), dtype="<i4") * 3 % 48,
              "bar": np.arange(len(ids), dtype="<i4") * 3 // 48}
    return {"root": "/synthetic", "path": f"artist{number % ARTISTS}/song{number}.mid",
            "size": 1000, "mtime_ns": 1, "md5": f"{number:032x}", "status": "ok",
            "repairs": [], "error": None, "ticks_per_beat": 480, "seconds": 120.0,
            "tempo": 120.0, "content_key": f"c{number}", "transposed_key": f"t{number}",
            "meters": [[0, 4, 4]], "tracks": [track], "streams": [stream]}


def synthesize(path: Path, tokens: int) -> float:
    from bench.bench_health_page import VOCABULARY
    from deeprock.corpus.catalog import Catalog

    started, rng = time.perf_counter(), np.random.default_rng(0)
    with Catalog(path) as catalog:
        for first in range(0, tokens // TRACK_TOKENS, 500):
            with catalog.batch():
                for number in range(first, min(first + 500, tokens // TRACK_TOKENS)):
                    catalog.put_file(record(rng, number, VOCABULARY))
    return time.perf_counter() - started


class Sampler(threading.Thread):
    """Peak RssAnon and RssFile of this process, in MB."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = {"RssAnon": 0, "RssFile": 0}

    def run(self) -> None:
        while True:
            for line in Path("/proc/self/status").read_text().splitlines():
                name, _, value = line.partition(":")
                if name in self.peak:
                    self.peak[name] = max(self.peak[name], int(value.split()[0]) // 1024)
            time.sleep(0.02)


def measure(catalog: str, run: str, path: str, batches: int) -> dict:
    """One process's figures: data setup, run inputs, `batches` training steps."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    sampler = Sampler()
    sampler.start()
    from deeprock.training import train
    from deeprock.training.config import RunConfig
    from deeprock.training.models import ModelSettings, build_model
    from deeprock.training.split import DataSettings

    config = RunConfig(catalog=catalog, model=ModelSettings(arch="deeprock", units=16,
                                                            embedding=8, layers=1),
                       data=DataSettings(seq_len=SEQ_LEN, unique_factor=4, split_by="artist"))
    began = time.perf_counter()
    data = (train.load_data(config) if path == "memory"
            else train.run_data(config, Path(run), log=print))
    setup = time.perf_counter() - began
    setup_peak = dict(sampler.peak)
    train._save_run_inputs(config, Path(run), data)
    inputs_peak = dict(sampler.peak)
    batch_data = train.training_batches(config, data)
    model = build_model(config.model, len(data.vocabulary), SEQ_LEN)
    began = time.perf_counter()
    for index in range(min(batches, len(batch_data))):
        model.train_on_batch(*batch_data[index])
    time.sleep(0.1)
    return {"path": path, "tokens": data.train.tokens + data.validation.tokens,
            "windows": len(data.train_starts), "setup_seconds": round(setup, 1),
            "train_seconds": round(time.perf_counter() - began, 1),
            "setup_anon_mb": setup_peak["RssAnon"], "inputs_anon_mb": inputs_peak["RssAnon"],
            "peak_anon_mb": sampler.peak["RssAnon"], "peak_file_mb": sampler.peak["RssFile"]}


def child(catalog: Path, run: Path, path: str, batches: int) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", str(catalog), str(run), path,
                             "--batches", str(batches)], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[10_000_000, 100_000_000])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, args.batches)))
        return 0
    print("| tokens | path | setup s | peak anon MB: setup / + run inputs / + training "
          "| peak file-backed MB |")
    print("|---|---|---|---|---|")
    for tokens in args.tokens:
        with tempfile.TemporaryDirectory() as folder:
            catalog = Path(folder) / "synthetic.sqlite"
            seconds = synthesize(catalog, tokens)
            print(f"<!-- {tokens} tokens synthesized in {seconds:.0f} s -->", flush=True)
            for path, run in (("memory", "memory"), ("mapped, first start", "run"),
                              ("mapped, resume", "run")):
                row = child(catalog, Path(folder) / run, path.split(",")[0], args.batches)
                print(f"| {row['tokens']:,} | {path} | {row['setup_seconds']} | "
                      f"{row['setup_anon_mb']} / {row['inputs_anon_mb']} / "
                      f"{row['peak_anon_mb']} | {row['peak_file_mb']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
