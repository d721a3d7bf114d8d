"""Scan speed: cold scan and rescan as whole commands, and per-file time against music21.

    .venv/bin/python bench/bench_scan.py [--corpus DIR] [--sample N] [--repeat R]

Targets (2 cores): cold scan of the 1181-file DeepRock corpus, catalog write included, <= 2 s;
rescan of unchanged files <= 0.5 s; per file >= 500x faster than the post's music21 path
(converter.parse + instrument.partitionByInstrument), measured here on the same sample.
Without ../shared/corpus it benchmarks a generated demo corpus instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "deeprock"


def timed_command(args: list[str]) -> tuple[float, dict]:
    started = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return time.perf_counter() - started, json.loads(out)


def scan_times(corpus: Path, repeat: int) -> tuple[list[float], list[float], dict]:
    cold, warm = [], []
    report: dict = {}
    command = [str(ROOT / ".venv/bin/deeprock"), "scan", str(corpus), "--json", "--catalog"]
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            catalog = os.path.join(folder, "bench.sqlite")
            seconds, report = timed_command([*command, catalog])
            cold.append(seconds)
            warm.append(timed_command([*command, catalog])[0])
    return cold, warm, report


def per_file_times(files: list[Path]) -> tuple[float, float]:
    """Mean seconds per file: ours (load + tokenize guitar tracks) and music21's path."""
    from music21 import converter, instrument

    from deeprock.music import guitar, midi, tokens

    def ours(path: Path) -> None:
        song = midi.load(path)
        for track in song.tracks:
            if guitar.by_metadata(track).guitar:
                tokens.tokenize(song, track)

    ours(files[0])  # load the numba-compiled code outside the timing
    started = time.perf_counter()
    for path in files:
        ours(path)
    ours_seconds = (time.perf_counter() - started) / len(files)
    started = time.perf_counter()
    for path in files:
        try:
            # forceSource: music21 otherwise reads its own cache of files parsed before
            instrument.partitionByInstrument(converter.parse(path, forceSource=True))
        except Exception:  # the post's path skips what music21 cannot read
            continue
    return ours_seconds, (time.perf_counter() - started) / len(files)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--sample", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    corpus = args.corpus
    if not corpus.is_dir():
        corpus = Path(tempfile.mkdtemp()) / "demo"
        subprocess.run([str(ROOT / ".venv/bin/deeprock"), "demo-data", str(corpus)], check=True)
    cold, warm, report = scan_times(corpus, args.repeat)
    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    sample = files[:: max(1, len(files) // args.sample)][: args.sample]
    ours, theirs = per_file_times(sample)
    print(f"Machine: {machine()}\nCorpus: {corpus} ({report['files']} files: {report['ok']} ok, "
          f"{report['recovered']} recovered, {report['failed']} failed)\n")
    print("| measure | result | target |\n|---|---|---|")
    print(f"| cold scan, whole command (median of {args.repeat}) | "
          f"{statistics.median(cold):.2f} s | <= 2 s |")
    print(f"| rescan unchanged (median of {args.repeat}) | {statistics.median(warm):.2f} s | "
          "<= 0.5 s |")
    print(f"| per file, deeprock load + tokens | {ours * 1000:.2f} ms | |")
    print(f"| per file, music21 parse + partitionByInstrument | {theirs * 1000:.0f} ms | |")
    print(f"| speed-up on {len(sample)} files | {theirs / ours:.0f}x | >= 500x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
