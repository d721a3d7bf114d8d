"""Riff output speed: MIDI, MusicXML and the WAV of a 30 s riff; copy index and statistics.

    .venv/bin/python bench/bench_audio.py [--seconds 30] [--repeats 5] [--catalog PATH]

The WAV is timed as the page pays for it: one fluidsynth process per render, the soundfont
loaded each time (target: <= 2 s for 30 s of riff). With --catalog, the copy index is built
over the catalog's guitar streams and queried with riffs cut from them, and the dataset
statistics are timed (targets: both well under a second).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deeprock.generation.midi_out import riff_midi, write_riff_midi
from deeprock.generation.musicxml import riff_musicxml
from deeprock.generation.riff import Riff
from deeprock.music.audio import find_soundfont, render_wav

CHORDS = ["E2 B2 E3", "G2 D3 G3", "A2 E3 A3", "D3 A3 D4", "E2", "G2", "A2", "B-2", "B2", "D3",
          "E4", "G4", "A4"]
TEMPO_BPM = 120


def riff_of_seconds(seconds: float, seed: int = 0) -> Riff:
    """A riff of power chords and pentatonic notes, sixteenth and triplet gaps, `seconds` long."""
    rng = np.random.default_rng(seed)
    total_twelfths = int(seconds * TEMPO_BPM / 60 * 12)
    deltas = [0]
    while sum(deltas) < total_twelfths - 12:
        deltas.append(int(rng.choice([3, 4, 6, 8, 12])))
    durations = [*deltas[1:], total_twelfths - sum(deltas)]
    tokens = [CHORDS[i] for i in rng.integers(0, len(CHORDS), len(deltas))]
    return Riff(tokens, np.array(deltas), np.array(durations), primer_length=8)


def timed(action: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(first call, median of the following calls) in seconds."""
    samples = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples[0], statistics.median(samples[1:])


def bench_output(seconds: float, repeats: int) -> None:
    riff = riff_of_seconds(seconds)
    print(f"riff: {len(riff)} tokens, {riff.end_twelfths() / 12 * 60 / TEMPO_BPM:.1f} s at "
          f"{TEMPO_BPM} bpm; soundfont {find_soundfont()}")
    print("| step | first call | median of next | note |\n|---|---|---|---|")
    first, median = timed(lambda: riff_midi(riff), repeats * 4)
    print(f"| riff_midi | {first * 1e3:.1f} ms | {median * 1e3:.1f} ms | |")
    first, median = timed(lambda: riff_midi(riff, backing=True), repeats * 4)
    print(f"| riff_midi, backing | {first * 1e3:.1f} ms | {median * 1e3:.1f} ms | |")
    first, median = timed(lambda: riff_musicxml(riff), repeats)
    print(f"| riff_musicxml | {first:.2f} s | {median:.2f} s | first call imports music21 |")
    with tempfile.TemporaryDirectory() as folder:
        for backing in (False, True):
            midi_path, wav_path = Path(folder) / "riff.mid", Path(folder) / "riff.wav"
            write_riff_midi(midi_path, riff, backing=backing)
            info = render_wav(midi_path, wav_path)
            first, median = timed(lambda: render_wav(midi_path, wav_path), repeats)  # noqa: B023
            print(f"| render_wav{', backing' if backing else ''} | {first:.2f} s | {median:.2f} s"
                  f" | WAV {info.seconds:.1f} s, peak {info.peak:.2f}, "
                  f"{info.seconds / median:.0f}x real time |")


def bench_copies(catalog_path: str, repeats: int) -> None:
    from deeprock.corpus.catalog import Catalog
    from deeprock.generation.copyindex import CopyIndex
    from deeprock.generation.stats import dataset_stats

    with Catalog(catalog_path) as catalog:
        streams = list(catalog.streams())
        vocabulary = catalog.vocabulary.tokens
    ids = [stream.ids for stream in streams]
    deltas = [stream.delta for stream in streams]
    print(f"\ncatalog {catalog_path}: {len(ids)} guitar streams, {sum(map(len, ids)):,} tokens")
    first, median = timed(lambda: CopyIndex(ids), repeats)
    print(f"| CopyIndex build | {first:.3f} s | {median:.3f} s | |")
    index = CopyIndex(ids)
    rng = np.random.default_rng(1)
    longest = max(ids, key=len)
    quoted = longest[len(longest) // 2 :][:500]
    shuffled = rng.permutation(np.concatenate(ids))[:500]
    queries = ((f"a quoted {len(quoted)}-token riff", quoted), ("500 shuffled tokens", shuffled))
    for name, query in queries:
        first, median = timed(lambda: index.longest_copy(query), repeats)  # noqa: B023
        print(f"| longest_copy, {name} | {first * 1e3:.1f} ms | {median * 1e3:.1f} ms | "
              f"copy {index.longest_copy(query)} |")
    first, median = timed(lambda: dataset_stats(ids, vocabulary, deltas), repeats)
    print(f"| dataset_stats | {first:.2f} s | {median:.2f} s | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--catalog", help="a catalog for the copy index and statistics")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    bench_output(args.seconds, args.repeats)
    if args.catalog:
        bench_copies(args.catalog, args.repeats)


if __name__ == "__main__":
    main()
