"""Fret choice on real guitar tracks: the DP against the lowest-fret rule (issue 10).

    .venv/bin/python bench/bench_tab.py [CORPUS] [--files N] [--tuning standard]

For every guitar track of the corpus (as `inspect` decides; ../shared/corpus/deeprock by
default) both fingerings are computed on the same chords: the difficulty of each (difficulty.py,
per onset), the share of tracks where the DP is easier / not harder, how often the two put a note
on the same string and fret, and the time per 1,000 notes of each. No human fingering exists for
these files, so the difficulty score is the yardstick.
Times are CPU seconds of this process (time.process_time): the machine is shared.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from deeprock.music import guitar, midi
from deeprock.tab.difficulty import skipped_strings
from deeprock.tab.tab import fret_chords, lowest_fret, parse_tuning
from deeprock.tab.track_tab import chords_of

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "deeprock"


def compare_track(chords: list[list[int]], tuning: tuple[int, ...]) -> dict:
    started = time.process_time()
    dp = fret_chords(chords, tuning)
    dp_seconds = time.process_time() - started
    started = time.process_time()
    rule = lowest_fret(chords, tuning)
    rule_seconds = time.process_time() - started
    same = sum(a == b for da, ra in zip(dp.positions, rule.positions, strict=True)
               for a, b in zip(da, ra, strict=True))
    return {"notes": sum(len(c) for c in chords), "same": same, "dp": dp.difficulty,
            "rule": rule.difficulty, "dp_seconds": dp_seconds, "rule_seconds": rule_seconds,
            "out_of_range": dp.out_of_range, "shared": dp.shared_strings,
            "chords": sum(len(c) > 1 for c in dp.positions),
            "skipping": sum(skipped_strings(c) > 0 for c in dp.positions),
            "rule_skipping": sum(skipped_strings(c) > 0 for c in rule.positions)}


def guitar_tracks(corpus: Path, files: int | None):
    paths = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    for path in paths[:files]:
        song = midi.load(path)
        for track in song.tracks:
            if len(track.notes) and not track.is_drum and guitar.decide(song, track).guitar:
                yield song, track


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--tuning", default="standard")
    args = parser.parse_args()
    tuning = parse_tuning(args.tuning)
    rows = [compare_track(chords_of(song, track)[0], tuning)
            for song, track in guitar_tracks(args.corpus, args.files)]
    report(rows, args)


def report(rows: list[dict], args: argparse.Namespace) -> None:
    notes = sum(r["notes"] for r in rows)
    dp, rule = np.array([r["dp"] for r in rows]), np.array([r["rule"] for r in rows])
    print(f"{platform.processor() or platform.machine()}, {args.corpus}, tuning {args.tuning}")
    print(f"guitar tracks {len(rows)}, notes {notes:,}, moved by octaves "
          f"{sum(r['out_of_range'] for r in rows):,}, sharing a string "
          f"{sum(r['shared'] for r in rows):,}")
    print(f"difficulty per onset, median over tracks: DP {statistics.median(dp):.3f}, "
          f"rule {statistics.median(rule):.3f}; mean DP {dp.mean():.3f}, rule {rule.mean():.3f}")
    print(f"tracks where the DP is easier: {np.mean(dp < rule - 1e-9):.1%}; not harder: "
          f"{np.mean(dp <= rule + 1e-9):.1%}; harder: {np.mean(dp > rule + 1e-9):.1%}")
    chords = sum(r["chords"] for r in rows)
    print(f"chords {chords:,}; fretted across a skipped inner string: DP "
          f"{sum(r['skipping'] for r in rows) / chords:.2%}, rule "
          f"{sum(r['rule_skipping'] for r in rows) / chords:.2%}")
    print(f"notes on the same string and fret: {sum(r['same'] for r in rows) / notes:.1%}")
    for name in ("dp", "rule"):
        seconds = sum(r[f"{name}_seconds"] for r in rows)
        print(f"{name}: {seconds:.2f} CPU s in all, {1000 * seconds / notes * 1000:.1f} ms per "
              f"1,000 notes")


if __name__ == "__main__":
    main()
