"""Riff quality at the default settings: 20 riffs of 200 tokens from a run, against its data.

    nice .venv/bin/python bench/bench_riff_quality.py /work/runs/shared-deeprock \
        [--catalog PATH] [--riffs 20] [--tokens 200] [--look 3 --out /tmp/riffs] [--json]

Issue 8's checks: no riff repeats one token longer than the dataset's 99th percentile (over
200-token chunks); at least 3 distinct time gaps per riff; the pitch-class distance to the
training side; the longest run copied verbatim from training at or below the validation songs'
figure (median over 200-token chunks). --look writes the first riffs' MIDI, WAV, tab, piano
roll (HTML and a PNG taken in Chromium) and the WAV's loudness per 2 s, for a listen.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np

from deeprock.generation.generate import GenerationRequest, generate, load_run
from deeprock.generation.primers import window_primer
from deeprock.generation.reference import dataset_reference
from deeprock.generation.stats import longest_repeat, pitch_class_distance, riff_stats


def riff_figures(riff, reference) -> dict:
    generated = riff.generated()
    ids = np.array([reference.token_ids.get(t, -1) for t in generated.tokens])
    stats = riff_stats(generated)
    return {"longest_repeat": longest_repeat(ids),
            "distinct_gaps": len(np.unique(generated.delta_twelfths[1:])),
            "pitch_class_distance": round(pitch_class_distance(
                stats["pitch_class_histogram"], reference.stats["pitch_class_histogram"]), 3),
            "longest_copy": reference.longest_copy(riff),
            "notes_per_bar": stats["notes_per_bar"], "chord_share": stats["chord_share"],
            "seconds_at_120": riff.generated().end_twelfths() / 24}


def loudness_per_window(path: Path, window_seconds: float = 2.0) -> list[float]:
    """RMS in dBFS of each window of the WAV (16-bit): where the riff is loud, where silent."""
    with wave.open(str(path), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
    mono = samples.reshape(-1, channels).mean(axis=1) / 32768
    size = int(rate * window_seconds)
    return [round(20 * np.log10(max(np.sqrt(np.mean(mono[i:i + size] ** 2)), 1e-6)), 1)
            for i in range(0, len(mono), size)]


def look_closely(riffs, out: Path, tempo: float = 120.0) -> list[dict]:
    from deeprock.generation.outputs import FILE_NAMES, OutputOptions, riff_files
    from deeprock.generation.roll import riff_roll

    notes = []
    for number, riff in enumerate(riffs):
        folder = out / f"riff-{number + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        files = riff_files(riff, OutputOptions(tempo_bpm=tempo), ("mid", "wav", "txt"))
        for kind, data in files.data.items():
            (folder / FILE_NAMES[kind]).write_bytes(data)
        riff_roll(riff, f"riff {number + 1}").write_html(folder / "roll.html")
        _screenshot(folder / "roll.html", folder / "roll.png")
        note = {"folder": str(folder), "tokens": riff.generated().tokens[:24]}
        wav = folder / FILE_NAMES["wav"]
        if wav.is_file():
            note["loudness_dbfs_per_2s"] = loudness_per_window(wav)
        if wav.is_file() and shutil.which("sox"):
            done = subprocess.run(["sox", str(wav), "-n", "stats"], capture_output=True,
                                  text=True, check=False)
            note["sox"] = {line.split("  ")[0].strip(): line.split()[-1]
                           for line in done.stderr.splitlines()
                           if line.startswith(("Pk lev dB", "RMS lev dB", "Length s"))}
        notes.append(note)
    return notes


def _screenshot(html: Path, png: Path) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 600})
        page.goto(html.resolve().as_uri())
        page.wait_for_timeout(1500)
        page.screenshot(path=str(png))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default="models/demo",
                        help="a trained run folder (default models/demo)")
    parser.add_argument("--catalog")
    parser.add_argument("--riffs", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--look", type=int, default=0)
    parser.add_argument("--out", default="/tmp/deeprock-riffs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (Path(args.run) / "best.keras").is_file():  # make bench runs every script as it is
        print(f"skipped: no trained run at {args.run}; train one first, e.g. deeprock train "
              f"--catalog data/demo.sqlite --out {args.run}")
        return
    started = time.perf_counter()
    run = load_run(args.run)
    reference = dataset_reference(run, args.catalog)
    catalog = args.catalog or run.config.catalog
    riffs = []
    for seed in range(args.riffs):  # default settings; a random training window as primer
        primer = window_primer(catalog, run.split, np.random.default_rng(seed),
                               run.window_tokens)
        riffs.append(generate(run, primer, GenerationRequest(args.tokens, seed=seed)).riffs[0])
    figures = [riff_figures(riff, reference) for riff in riffs]
    p99 = reference.stats["longest_repeat_p99"]
    report = {
        "run": args.run, "riffs": len(riffs), "tokens": args.tokens,
        "dataset_longest_repeat_p99": p99,
        "validation_copy_median": reference.validation_copy,
        "validation_copy_p90": reference.validation_copy_p90,
        "riffs_repeat_over_p99": sum(f["longest_repeat"] > p99 for f in figures),
        "riffs_under_3_gaps": sum(f["distinct_gaps"] < 3 for f in figures),
        "riffs_copy_over_validation_median": sum(f["longest_copy"] > reference.validation_copy
                                                 for f in figures),
        "pitch_class_distance_mean": round(float(np.mean(
            [f["pitch_class_distance"] for f in figures])), 3),
        "per_riff": figures, "seconds": round(time.perf_counter() - started, 1),
    }
    if args.look:
        report["look"] = look_closely(riffs[:args.look], Path(args.out))
    print(json.dumps(report) if args.json else json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
