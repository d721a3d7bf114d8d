"""deeprock against seed against the trigram, at the same budget, on the same held-out songs.

    python bench/bench_budget.py --catalog C --minutes 15     # trains both, then compares
    python bench/bench_budget.py                  # the demo catalog, 5 minutes (make bench)
    python bench/bench_budget.py --compare models/a models/b  # compares runs already trained

Both runs use the same catalog, split (by artist: songs of artists never seen) and windows
(seq_len 100, unique_factor 13, the post's). They train side by side, so they share whatever
else runs on the machine; the table gives the wall clock and the process CPU time of each.
Validation losses are compared two ways: each run's own (the seed scores the token after each
window; deeprock every position, most with less context, a harder task), and both scored on
exactly the seed's predictions (`evaluate --held-out --targets last`), beside the interpolated
trigram on those same targets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from deeprock.training import runs

COMMON = ["--split-by", "artist", "--seq-len", "100", "--unique-factor", "13",
          "--epochs", "200", "--patience", "0", "--json"]


def train_side_by_side(catalog: str, out: Path, minutes: float) -> list[Path]:
    folders = [out / "deeprock", out / "seed"]
    extra = [["--arch", "deeprock"], ["--arch", "seed", "--stride", "32"]]
    processes = []
    for folder, options in zip(folders, extra, strict=True):
        env = {**os.environ, "DEEPROCK_TRAIN_LOCK": str(folder) + ".lock",
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "deeprock.cli", "train", "--catalog", catalog, "--out",
             str(folder), "--max-minutes", str(minutes), *COMMON, *options], env=env,
            stdout=subprocess.DEVNULL))
    for process in processes:
        process.wait()
    return folders


def curve_table(folder: Path) -> None:
    print(f"\n{folder.name}: epoch | wall min | CPU min | val token loss | perplexity")
    print("|---|---|---|---|---|")
    wall = cpu = 0.0
    for row in runs.read_metrics(folder):
        wall += row["seconds"] / 60
        cpu += row.get("cpu_seconds", math.nan) / 60
        loss = row.get("val_next_token_loss", row["val_loss"])
        print(f"| {row['epoch']} | {wall:.1f} | {cpu:.1f} | {loss:.3f} | {math.exp(loss):.1f} |")


def same_targets(folder: Path, catalog: str, seq_len: int | None = None) -> dict:
    """The token after each held-out window (of seq_len tokens; default the run's own)."""
    window = ["--seq-len", str(seq_len)] if seq_len else []
    result = subprocess.run(
        [sys.executable, "-m", "deeprock.cli", "evaluate", "--model", str(folder),
         "--catalog", catalog, "--held-out", "--targets", "last", *window, "--json"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="data/demo.sqlite")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("models/bench-budget"))
    parser.add_argument("--compare", type=Path, nargs=2, help="deeprock and seed run folders")
    args = parser.parse_args()
    folders = args.compare or train_side_by_side(args.catalog, args.out, args.minutes)
    for folder in folders:
        curve_table(folder)
    print("\n| run | own val ppl | ppl on the seed's targets | trigram there | unigram there |")
    print("|---|---|---|---|---|")
    for folder in folders:
        own = runs.summarize(folder, folder.parent).perplexity
        scored = same_targets(folder, args.catalog)
        base = scored.get("baselines") or {}
        print(f"| {folder.name} | {own:.1f} | {scored['perplexity']:.1f} | "
              f"{base.get('trigram_perplexity', math.nan):.1f} | "
              f"{base.get('unigram_perplexity', math.nan):.1f} |")


if __name__ == "__main__":
    main()
