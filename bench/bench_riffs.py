"""Riffs that come back: seed, deeprock and transformer at an equal CPU budget, side by side.

    python bench/bench_riffs.py --catalog C --cpu-minutes 15 --out /work/runs/riffs \
        [--runs seed deeprock transformer transformer-augment]     # train, then compare
    python bench/bench_riffs.py --catalog C --compare /work/runs/riffs/deeprock ...
    python bench/bench_riffs.py --catalog C --compare RUN --repeat-bias 0 1 2 3 \
        --temperature 0.9 0.7                    # the riffs at every pair of these settings
    python bench/bench_riffs.py                  # the demo catalog, 1 CPU-minute (make bench)

Every run: split by artist (songs of artists never seen are scored), its architecture's
defaults (the Train page's), pinned to one core of its own (taskset) and stopped by SIGTERM once
its process has used --cpu-minutes of CPU: equal budgets whatever else runs on the machine.
Two runs train at a time on a 2-core machine. Then, per run:
- next-token perplexity on the very same targets (the token after each held-out window of 100,
  `evaluate --held-out --targets last --seq-len 100`) beside the interpolated trigram there;
- perplexity at positions 200-500 of long held-out tracks (generation/long_context.py), fed
  step by step as generation does, beside the same tracks' first window;
- 20 riffs of 200 tokens at the default sampling (free mode, a random training window as
  primer): the median of generation/structure.py's four measures and of the longest copy,
  against the training tracks' figures and the validation songs' copy median; with several
  --repeat-bias / --repeat-bars / --temperature values, at each combination (same primers and
  seeds), the perplexities measured once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from itertools import product
from pathlib import Path

import numpy as np
from bench_budget import curve_table, same_targets

from deeprock.atomic import write_atomic
from deeprock.generation.generate import GenerationRequest, generate, load_run
from deeprock.generation.long_context import long_context_perplexity
from deeprock.generation.primers import window_primer
from deeprock.generation.reference import dataset_reference
from deeprock.generation.sampling import SamplingSettings
from deeprock.generation.structure import MEASURES, riff_structure

RUNS = {"seed": ["--arch", "seed"], "deeprock": ["--arch", "deeprock"],
        "transformer": ["--arch", "transformer"],
        "deeprock-augment": ["--arch", "deeprock", "--augment", "4"],
        "transformer-augment": ["--arch", "transformer", "--augment", "4"]}
COMMON = ["--split-by", "artist", "--epochs", "500", "--patience", "0", "--no-selection",
          "--json"]
POLL_SECONDS = 5
SAME_WINDOW = 100  # the seed's window: every run is scored on the token after it


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its threads (TensorFlow's pools included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def train_pair(catalog: str, out: Path, names: list[str], cpu_minutes: float) -> None:
    """Train up to two runs at once, each on its own core, until each has spent the budget."""
    processes = {}
    for core, name in enumerate(names):
        folder = out / name
        env = {**os.environ, "DEEPROCK_TRAIN_LOCK": str(folder) + ".lock",
               "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1",
               "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
        command = ["taskset", "-c", str(core % os.cpu_count()), sys.executable, "-m",
                   "deeprock.cli", "train", "--catalog", catalog, "--out", str(folder),
                   *COMMON, *RUNS[name]]
        processes[name] = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    started = time.monotonic()
    while any(p.poll() is None for p in processes.values()):
        time.sleep(POLL_SECONDS)
        for process in processes.values():
            if process.poll() is None and (
                    _cpu_seconds(process.pid) >= cpu_minutes * 60
                    or time.monotonic() - started > 3 * cpu_minutes * 60):
                process.send_signal(signal.SIGTERM)  # graceful: the last whole epoch stays


def riff_figures(run, reference, catalog: str, riffs: int, tokens: int,
                 sampling: SamplingSettings) -> dict:
    """Medians over `riffs` riffs (primer and seed i for riff i, whatever the sampling)."""
    measured = {name: [] for name in (*MEASURES, "longest_copy")}
    for seed in range(riffs):
        primer = window_primer(catalog, run.split, np.random.default_rng(seed),
                               run.window_tokens)
        request = GenerationRequest(tokens, sampling=sampling, seed=seed)
        riff = generate(run, primer, request).riffs[0]
        structure = riff_structure(riff)
        for name in MEASURES:
            if structure[name] is not None:
                measured[name].append(structure[name])
        measured["longest_copy"].append(reference.longest_copy(riff))
    figures = {name: (float(np.median(values)) if values else None)
               for name, values in measured.items()}
    figures["measured_riffs"] = len(measured["exact_repeat"])
    return {"sampling": sampling.to_dict(), **figures}


def run_figures(folder: Path, catalog: str, riffs: int, tokens: int,
                samplings: list[SamplingSettings]) -> dict:
    run = load_run(folder)
    reference = dataset_reference(run, catalog)
    return {"riffs": [riff_figures(run, reference, catalog, riffs, tokens, sampling)
                      for sampling in samplings],
            "reference": reference.structure, "validation_copy": reference.validation_copy,
            "long_context": long_context_perplexity(run, catalog)}


def samplings(biases: list[float], bars: list[int], temperatures: list[float]
              ) -> list[SamplingSettings]:
    """Every combination, the defaults otherwise; the first is the main table's."""
    return [replace(SamplingSettings(), repeat_bias=bias, repeat_bars=period,
                    temperature=temperature).validated()
            for temperature, period, bias in product(temperatures, bars, biases)]


def report(folders: list[Path], catalog: str, riffs: int, tokens: int,
           settings: list[SamplingSettings]) -> list[dict]:
    rows = []
    for folder in folders:
        curve_table(folder)
        scored = same_targets(folder, catalog, SAME_WINDOW)
        rows.append({"run": folder.name, "perplexity": scored["perplexity"],
                     "trigram": (scored.get("baselines") or {}).get("trigram_perplexity"),
                     **run_figures(folder, catalog, riffs, tokens, settings)})
    print("\n| run | ppl, same targets | trigram | ppl 200-500 (first window) | exact | near | "
          "groove | scale | longest copy (validation median) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        late, r = row["long_context"], row["riffs"][0]
        print(f"| {row['run']} | {row['perplexity']:.1f} | {row['trigram']:.1f} | "
              f"{_shown(late['perplexity'])} ({_shown(late['window_perplexity'])}) | "
              + _measures(r) + f" ({_shown(row['validation_copy'])}) |")
    if len(settings) > 1:
        _sampling_table(rows)
    reference = rows[0]["reference"] if rows else {}
    print("\ntraining tracks (median, p10-p90): " + ", ".join(
        f"{name} {v['median']:.2f} ({v['p10']:.2f}-{v['p90']:.2f})"
        for name, v in reference.items() if v))
    return rows


def _sampling_table(rows: list[dict]) -> None:
    print("\n| run | temperature | repeat bias | bars | exact | near | groove | scale | "
          "longest copy |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        for figures in row["riffs"]:
            sampling = figures["sampling"]
            print(f"| {row['run']} | {sampling['temperature']:g} | "
                  f"{sampling['repeat_bias']:g} | {sampling['repeat_bars']} | "
                  + _measures(figures) + " |")


def _measures(figures: dict) -> str:
    return (" | ".join(_shown(figures[name], 2) for name in MEASURES)
            + f" | {_shown(figures['longest_copy'])}")


def _shown(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="data/demo.sqlite")
    parser.add_argument("--cpu-minutes", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("models/bench-riffs"))
    parser.add_argument("--runs", nargs="+", default=["deeprock", "transformer"],
                        choices=tuple(RUNS))
    parser.add_argument("--compare", type=Path, nargs="+", help="run folders already trained")
    parser.add_argument("--riffs", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--repeat-bias", type=float, nargs="+",
                        default=[SamplingSettings().repeat_bias], help="copy prior, nats")
    parser.add_argument("--repeat-bars", type=int, nargs="+",
                        default=[SamplingSettings().repeat_bars])
    parser.add_argument("--temperature", type=float, nargs="+",
                        default=[SamplingSettings().temperature])
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    if not Path(args.catalog).is_file():
        print(f"skipped: no catalog at {args.catalog} (make demo)")
        return
    folders = args.compare
    if not folders:
        for first in range(0, len(args.runs), 2):
            train_pair(args.catalog, args.out, args.runs[first:first + 2], args.cpu_minutes)
        folders = [args.out / name for name in args.runs]
    rows = report(folders, args.catalog, args.riffs, args.tokens,
                  samplings(args.repeat_bias, args.repeat_bars, args.temperature))
    if args.json:
        write_atomic(args.json, json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
