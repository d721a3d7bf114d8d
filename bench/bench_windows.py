"""Window statistics speed: one-time build per seq_len, and each unique_factor slider move.

    .venv/bin/python bench/bench_windows.py [--tokens 1000000] [--tracks 2000] [--slice 20000]

Synthesizes looping guitar tracks (riffs repeated with changes, some free solos; a ~2,000 token
vocabulary), stores them in a temporary catalog, and times WindowStats against the post's
check_data (np.unique on every window, redone for every unique_factor) on the first --slice
tokens, extrapolated to the whole. Target: a slider move <= 50 ms for 1M tokens.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deeprock.corpus.catalog import Catalog
from deeprock.corpus.windows import WindowStats

VOCABULARY = 2000
SEQ_LENS = (25, 50, 100, 200)


def synthesize(tokens: int, tracks: int, seed: int = 0) -> list[np.ndarray]:
    """Tracks of varying length built from looped riffs, so that unique_factor matters."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 2 * tokens // tracks - 20, tracks)
    popularity = 1 / np.arange(1, VOCABULARY + 1)  # Zipf: a few chords everywhere
    popularity /= popularity.sum()
    streams = []
    for length in lengths:
        palette = rng.choice(VOCABULARY, rng.integers(4, 40), replace=False, p=popularity)
        parts = []
        while sum(map(len, parts)) < length:
            riff = rng.choice(palette, rng.integers(1, 13))
            if rng.random() < 0.2:  # a solo: no loop at all
                parts.append(rng.choice(palette, rng.integers(8, 64)))
            else:
                parts.append(np.tile(riff, rng.integers(2, 17)))
        streams.append(np.concatenate(parts)[:length].astype(np.int32))
    return streams


def write_catalog(path: str, streams: list[np.ndarray]) -> None:
    """One file with one guitar track per stream, through the catalog's own writer."""
    names = [f"t{i}" for i in range(VOCABULARY)]
    track = {"idx": 0, "channel": 0, "program": 30, "name": "Lead", "is_drum": False,
             "notes": 0, "pitch_min": 40, "pitch_max": 80, "polyphony": 1.0, "guitar": True,
             "guitar_source": "metadata", "guitar_probability": 1.0, "guitar_reason": "bench"}
    with Catalog(path) as catalog, catalog.batch():
        for number, ids in enumerate(streams):
            catalog.put_file({
                "root": "/bench", "path": f"{number}.mid", "size": 0, "mtime_ns": 0,
                "md5": None, "status": "ok", "repairs": [], "error": None,
                "ticks_per_beat": 480, "seconds": 0.0, "tempo": 120.0, "content_key": None,
                "transposed_key": None, "meters": [[0, 4, 4]], "tracks": [track],
                "streams": [{"idx": 0, "channel": 0, "names": names, "ids": ids,
                             "delta": np.zeros_like(ids), "duration": np.ones_like(ids),
                             "position": np.zeros_like(ids), "bar": np.zeros_like(ids)}]})


def seconds(call: Callable[[], object], repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def post_check_data(streams: list[np.ndarray], seq_len: int, unique_factor: int) -> int:
    """The post's loop, kept inside tracks: np.unique on each window's X."""
    return sum(len(np.unique(ids[i : i + seq_len])) > unique_factor
               for ids in streams for i in range(len(ids) - seq_len))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def slider_rows(stats: WindowStats) -> list[tuple[str, list[float]]]:
    """Per-call times of what a unique_factor move asks for, over every unique_factor."""
    factors = range(stats.seq_len + 1)
    return [
        ("kept(u)", [t for u in factors for t in seconds(lambda u=u: stats.kept(u), 20)]),
        ("per_track(u)", [seconds(lambda u=u: stats.per_track(u))[0] for u in factors]),
        ("example(u, kept) x 2", [seconds(lambda u=u: (stats.example(u, True),
                                                        stats.example(u, False)))[0]
                                  for u in factors]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--tracks", type=int, default=2000)
    parser.add_argument("--slice", type=int, default=20_000)
    args = parser.parse_args()
    streams = synthesize(args.tokens, args.tracks)
    tokens = sum(map(len, streams))
    compile_s = seconds(lambda: WindowStats.from_streams(streams[:2], 4))[0]
    print(f"Machine: {machine()}\nData: {len(streams)} tracks, {tokens:,} tokens, "
          f"{len(np.unique(np.concatenate(streams)))} distinct tokens; numba load/compile "
          f"{compile_s * 1000:.0f} ms (once per process)\n")
    print("| seq_len | windows | kept u=5 / u=10 | build from id arrays | build from catalog |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.sqlite")
        write_catalog(path, streams)
        with Catalog(path) as catalog:
            for seq_len in SEQ_LENS:
                build = seconds(lambda s=seq_len: WindowStats.from_streams(streams, s), 3)
                read = seconds(lambda s=seq_len: WindowStats.from_catalog(catalog, s), 3)
                stats = WindowStats.from_streams(streams, seq_len)
                print(f"| {seq_len} | {stats.total:,} | {stats.kept(5):,} / {stats.kept(10):,} "
                      f"| {statistics.median(build) * 1000:.1f} ms "
                      f"| {statistics.median(read) * 1000:.1f} ms |")
    print_slider_table(streams, args.slice)
    return 0


def print_slider_table(streams: list[np.ndarray], slice_tokens: int) -> None:
    stats = WindowStats.from_streams(streams, 100)
    print(f"\nPer slider move, seq_len 100, every unique_factor 0..100, {stats.total:,} windows:\n")
    print("| call | median | max |\n|---|---|---|")
    rows = slider_rows(stats)
    for name, times in rows:
        print(f"| {name} | {statistics.median(times) * 1e6:.1f} µs | {max(times) * 1e6:.1f} µs |")
    cut = int(np.searchsorted(np.cumsum(list(map(len, streams))), slice_tokens)) + 1
    part = streams[:cut]
    post = seconds(lambda: post_check_data(part, 100, 10))[0]
    measured = WindowStats.from_streams(part, 100)
    assert post_check_data(part, 100, 10) == measured.kept(10), "the post's count differs"
    post_all = post * stats.total / measured.total
    print(f"| post's check_data (np.unique per window; {measured.total:,} windows measured, "
          f"extrapolated) | {post_all:.2f} s | |")
    move = sum(statistics.median(times) for _, times in rows)
    print(f"\nA whole move (the three calls, medians): {move * 1000:.2f} ms, "
          f"{post_all / move:,.0f}x faster than redoing check_data (on int ids; the post's "
          "string tokens are slower still).")

if __name__ == "__main__":
    sys.exit(main())
