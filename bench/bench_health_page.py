"""Dataset health page on a synthetic 100k-file catalog: first render and a slider move.

    .venv/bin/python bench/bench_health_page.py [--files 100000] [--keep | --catalog PATH]
        [--profile FILE]   # cProfile of the first render instead of the timings


Targets: first render within 3 s, a unique_factor slider move within 0.3 s. The catalog is
synthesized straight into SQLite through Catalog.put_file (parsing 100k MIDI files is not the
point here): per file a guitar track of 60-200 tokens built from repeated riffs, a bass and a
drum track, a few tracks without program, some exact and content duplicates. Timed through
streamlit's AppTest, which runs the page script as the server does, without the browser.
"""

from __future__ import annotations

import argparse
import os
import pstats
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from deeprock import settings
from deeprock.corpus.catalog import Catalog
from deeprock.music.tokens import PITCH_NAMES

ROOT = Path(__file__).resolve().parents[1]

VOCABULARY = [PITCH_NAMES[p] for p in range(40, 88)] + [
    f"{PITCH_NAMES[p]} {PITCH_NAMES[p + 7]}" for p in range(28, 60)]


def record(rng: np.random.Generator, number: int) -> dict:
    riff = rng.integers(0, len(VOCABULARY), rng.integers(4, 24))
    ids = np.tile(riff, 200)[: rng.integers(60, 200)].astype("<i4")
    md5 = f"{number // 50 if number % 50 == 1 else number:032x}"  # 2% exact copies
    no_program = number % 40 == 0
    track = {"is_drum": False, "notes": len(ids), "pitch_min": 40, "pitch_max": 76,
             "polyphony": 1.2, "name": "" if no_program else "Guitar", "notes_probability": None}
    tracks = [
        {**track, "idx": 1, "channel": 0, "program": None if no_program else 30,
         "guitar": not no_program or bool(number % 80), "guitar_source":
         "inferred" if no_program else "metadata", "guitar_probability":
         float(rng.random()) if no_program else 1.0, "guitar_reason": "synthetic"},
        {**track, "idx": 2, "channel": 1, "program": 33, "name": "Bass", "guitar": False,
         "guitar_source": "metadata", "guitar_probability": 0.0, "guitar_reason": "GM 33"},
        {**track, "idx": 3, "channel": 9, "program": None, "name": "Drums", "is_drum": True,
         "guitar": False, "guitar_source": "metadata", "guitar_probability": 0.0,
         "guitar_reason": "drum channel 10"},
    ]
    stream = {"idx": 1, "channel": 0, "names": VOCABULARY, "ids": ids,
              "delta": np.full(len(ids), 3, "<i4"), "duration": np.full(len(ids), 3, "<i4"),
              "position": np.arange(len(ids), dtype="<i4") * 3 % 48,
              "bar": np.arange(len(ids), dtype="<i4") * 3 // 48}
    return {"root": "/synthetic", "path": f"{number % 997}/song{number}.mid", "size": 1000,
            "mtime_ns": 1, "md5": md5, "status": "ok", "repairs": [], "error": None,
            "ticks_per_beat": 480, "seconds": 120.0, "tempo": 120.0,
            "content_key": f"{number // 2 if number % 30 == 3 else -number}",
            "transposed_key": f"t{number}", "meters": [[0, 4, 4]], "tracks": tracks,
            "streams": [stream]}


def synthesize(path: Path, files: int) -> float:
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    with Catalog(path) as catalog:
        for first in range(0, files, 2000):
            with catalog.batch():
                for number in range(first, min(first + 2000, files)):
                    catalog.put_file(record(rng, number))
    return time.perf_counter() - started


# the page alone as the script, under cProfile: AppTest runs a script in a thread of its own,
# which a profiler enabled here would not see
PROFILED = """import cProfile, runpy
profile = cProfile.Profile()
try:
    profile.runcall(runpy.run_path, {page!r}, run_name="__main__")
finally:
    profile.dump_stats({out!r})
"""


def use_catalog(catalog_path: Path, folder: Path) -> None:
    os.environ["DEEPROCK_SETTINGS"] = str(folder / "settings.json")
    settings.save(settings.Settings(str(folder), str(catalog_path)))
    os.chdir(ROOT)


def profile_page(catalog_path: Path, folder: Path, out: Path) -> None:
    """The first render's cProfile in `out`; its 30 most costly calls (cumulative) printed.
    The Home page runs first, as in time_page: what it imports is not the page's cost."""
    from streamlit.testing.v1 import AppTest

    use_catalog(catalog_path, folder)
    AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    script = folder / "profiled_page.py"
    script.write_text(PROFILED.format(page=str(ROOT / "pages/dataset_health.py"),
                                      out=str(out.resolve())))
    app = AppTest.from_file(str(script), default_timeout=600).run()
    assert not app.exception, app.exception
    pstats.Stats(str(out)).sort_stats("cumulative").print_stats(30)


def time_page(catalog_path: Path, folder: Path) -> tuple[float, list[float]]:
    from streamlit.testing.v1 import AppTest

    use_catalog(catalog_path, folder)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    started = time.perf_counter()
    app.switch_page("pages/dataset_health.py").run()
    first = time.perf_counter() - started
    assert not app.exception, app.exception
    moves = []
    slider = next(s for s in app.slider if s.label.startswith("unique_factor"))
    for value in (5, 12, 20, 30, 8, 15):
        started = time.perf_counter()
        slider.set_value(value).run()
        moves.append(time.perf_counter() - started)
        slider = next(s for s in app.slider if s.label.startswith("unique_factor"))
    assert not app.exception, app.exception
    return first, moves


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the synthetic catalog")
    parser.add_argument("--catalog", type=Path,
                        help="a catalog --keep left (synthesizing 1M files takes minutes)")
    parser.add_argument("--profile", type=Path, help="write the first render's cProfile here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="health_bench_"))
    catalog_path = args.catalog.resolve() if args.catalog else folder / "synthetic.sqlite"
    build = 0.0 if args.catalog else synthesize(catalog_path, args.files)
    if args.catalog:
        Catalog(catalog_path).close()  # a catalog from before files_by_path gets it here
    load = os.getloadavg()[0]
    try:
        if args.profile:
            profile_page(catalog_path, folder, args.profile)
            print(f"load {load:.1f} -> {os.getloadavg()[0]:.1f} (1 min, before -> after)")
        else:
            report(catalog_path, folder, build, load)
    finally:
        if args.keep:
            print(f"kept {catalog_path}")
        else:
            shutil.rmtree(folder)  # the catalog and its store folder too, when synthesized
    return 0


def report(catalog_path: Path, folder: Path, build: float, load: float) -> None:
    """The timings as RESULTS.md's table, with the load before and after and the peak RSS."""
    first, moves = time_page(catalog_path, folder)
    with Catalog(catalog_path) as catalog:
        files = catalog.summary()["files"]
    print(f"Machine: {os.cpu_count()} cores, load {load:.1f} -> {os.getloadavg()[0]:.1f} "
          "(1 min, before -> after); catalog: "
          f"{files} files, {catalog_path.stat().st_size / 1e6:.0f} MB, synthesized in "
          f"{build:.0f} s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f}"
          " MB\n")
    print("| measure | result | target |\n|---|---|---|")
    print(f"| first render of the page (cold caches) | {first:.2f} s | <= 3 s |")
    print(f"| unique_factor slider move (median of {len(moves)}) | "
          f"{statistics.median(moves):.3f} s | <= 0.3 s |")
    print(f"| slowest slider move | {max(moves):.3f} s | |")
    print("moves, in order: " + ", ".join(f"{move:.3f}" for move in moves))

if __name__ == "__main__":
    sys.exit(main())
