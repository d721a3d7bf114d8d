"""Duplicate search at scale: a synthetic catalog's first search, a rescan's, and peak RSS.

    .venv/bin/python bench/bench_dedup_scale.py [--files 100000] [--added 1000] [--keep]
        [--base PATH]   # a synthesized catalog to copy from, written there when missing

Goal (issue 16): 1.4M files searched within 10 minutes and 4 GB of peak RSS on 2 cores. The
catalog is written through Catalog.put_file, as bench_health_page.py does: per file one guitar
stream of 100-400 random tokens; 2% exact copies, 2% versions (another file's stream with 3% of
its tokens changed, in another folder, so only the similarity search finds them). Each search
runs in a child process, so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from deeprock.corpus.catalog import Catalog
from deeprock.music.tokens import PITCH_NAMES, TWELFTHS_PER_BAR

VOCABULARY = [PITCH_NAMES[p] for p in range(40, 88)] + [
    f"{PITCH_NAMES[p]} {PITCH_NAMES[p + 7]}" for p in range(28, 60)]


def song(number: int) -> np.ndarray:
    """The tokens of song `number`; a version (every 50th file, offset 7) is the song 7 files
    before it with 3% of its tokens changed."""
    rng = np.random.default_rng(number)
    if number % 50 == 7:
        ids = song(number - 7)
        changed = rng.choice(len(ids), max(1, len(ids) * 3 // 100), replace=False)
        ids[changed] = rng.integers(0, len(VOCABULARY), len(changed))
        return ids
    return rng.integers(0, len(VOCABULARY), rng.integers(100, 400)).astype("<i4")


def bar_places(delta: np.ndarray) -> dict:
    """4/4 bar positions and numbers of a stream's onsets (the scan's streams carry them)."""
    onsets = np.cumsum(delta)
    return {"position": (onsets % TWELFTHS_PER_BAR).astype("<i4"),
            "bar": (onsets // TWELFTHS_PER_BAR).astype("<i4")}


def record(number: int) -> dict:
    copy_of = number - 1 if number % 50 == 1 else number  # 2% exact copies
    ids = song(copy_of)
    delta = (3 << (ids % 3)).astype("<i4")  # a rhythm of the notes, so a version keeps it
    track = {"idx": 1, "channel": 0, "program": 30, "name": "Guitar", "is_drum": False,
             "notes": len(ids), "pitch_min": 40, "pitch_max": 80, "polyphony": 1.2,
             "guitar": True, "guitar_source": "metadata", "guitar_probability": 1.0,
             "guitar_reason": "synthetic", "notes_probability": 1.0}
    return {"root": "/synthetic", "path": f"{number % 997}/song{number}.mid", "size": 1000,
            "mtime_ns": 1, "md5": f"{copy_of:032x}", "status": "ok", "repairs": [],
            "error": None, "ticks_per_beat": 480, "seconds": 120.0, "tempo": 120.0,
            "content_key": f"c{copy_of}", "transposed_key": f"t{copy_of}", "tracks": [track],
            "meters": [[0, 4, 4]],
            "streams": [{"idx": 1, "channel": 0, "names": VOCABULARY, "ids": ids,
                         "delta": delta, "duration": delta,
                         **bar_places(delta)}]}


def synthesize(path: Path, first: int, last: int) -> float:
    started = time.perf_counter()
    with Catalog(path) as catalog:
        for start in range(first, last, 5000):
            with catalog.batch():
                for number in range(start, min(start + 5000, last)):
                    catalog.put_file(record(number))
    return time.perf_counter() - started


def prepare(path: Path, base: Path | None, files: int) -> float:
    """Synthesize the catalog, or copy it from base (synthesized there first when missing):
    at 300k files the synthesis takes longer than the searches."""
    if base is None:
        return synthesize(path, 0, files)
    seconds = 0.0 if base.exists() else synthesize(base, 0, files)
    shutil.copy(base, path)
    return seconds


def measure(path: str) -> None:
    """In the child: one search, its time, groups and peak RSS as JSON."""
    from collections import Counter

    from deeprock.corpus.dedup import find_duplicates

    started = time.perf_counter()
    with Catalog(path) as catalog:
        groups = find_duplicates(catalog)
    print(json.dumps({"seconds": time.perf_counter() - started,
                      "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                      "load": os.getloadavg()[0],
                      "groups": Counter(g.kind for g in groups)}))


def search(path: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--added", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the synthetic catalog")
    parser.add_argument("--base", type=Path, help="synthesized catalog to copy (made if missing)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="dedup_bench_"))
    path = folder / "synthetic.sqlite"
    build = prepare(path, args.base, args.files)
    first = search(path)
    size = path.stat().st_size / 1e6
    synthesize(path, args.files, args.files + args.added)
    rescan, again = search(path), search(path)
    print(f"Machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.files:,} files "
          f"{f'synthesized in {build:.0f} s' if build else 'copied from --base'}, catalog "
          f"{size:.0f} MB after the first search "
          f"({path.stat().st_size / 1e6:.0f} MB at the end); groups {first['groups']}\n")
    print("| search | time | peak RSS | load |\n|---|---|---|---|")
    for name, result in ((f"first, {args.files:,} files", first),
                         (f"after adding {args.added:,} files", rescan),
                         ("nothing changed", again)):
        print(f"| {name} | {result['seconds']:.1f} s | {result['rss_gb']:.2f} GB "
              f"| {result['load']:.1f} |")
    if args.keep:
        print(f"kept {path}")
    else:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
