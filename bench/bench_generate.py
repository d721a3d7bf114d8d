"""Generation speed: carried-state numpy sampling against the post's loop, batch 8 against 1,
and the whole Generate click. Results go to bench/RESULTS.md ("Generation").

    nice .venv/bin/python bench/bench_generate.py [--vocabulary 4405] [--tokens 500] [--json]

The model is a default-size "deeprock" network (ModelSettings(): embedding 64, 2 x LSTM 256)
over a vocabulary of the shared corpus's size; its weights are untrained, which changes nothing
in the arithmetic. The post's loop is `model.predict` on the whole window for every note (the
window of the run's seq_len, 64), timed on a few notes and given per note.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from deeprock.generation.generate import GenerationRequest, LoadedRun, generate
from deeprock.generation.heads import softmax
from deeprock.generation.inference import numpy_network
from deeprock.generation.primers import Primer
from deeprock.generation.weights import read_keras_weights
from deeprock.music.tokens import PITCH_NAMES
from deeprock.training.config import RunConfig
from deeprock.training.models import ModelSettings, build_model
from deeprock.training.vocab import RHYTHM_CLASSES, RunVocabulary


def synthetic_tokens(count: int) -> list[str]:
    """Distinct notes and chords spelled like real tokens (the riff's outputs parse them)."""
    tokens = [PITCH_NAMES[p] for p in range(40, 88)]
    for size in (2, 3, 4):
        for chord in itertools.combinations(range(40, 76, 1), size):
            if len(tokens) >= count:
                return tokens
            tokens.append(" ".join(PITCH_NAMES[p] for p in chord))
    return tokens[:count]


def bench_run(vocabulary_size: int) -> tuple[LoadedRun, object]:
    tokens = ["<unk>", *synthetic_tokens(vocabulary_size - 1)]
    vocabulary = RunVocabulary(tokens, [1] + [100] * (vocabulary_size - 1), 2)
    model = build_model(ModelSettings(), vocabulary_size, jit_compile=False)
    _typical_rhythm(model)
    _peaked_tokens(model)
    counts = np.zeros(RHYTHM_CLASSES)
    counts[[3, 6, 12, 24]] = [10, 40, 30, 5]
    run = LoadedRun(Path("bench"), RunConfig(catalog="none"), vocabulary,
                    numpy_network(_saved_weights(model)), [], counts, counts)
    return run, model


def _saved_weights(model):
    """The model as generation reads a run: saved, then its weights read from the archive."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.keras"
        model.save(path)
        return read_keras_weights(path)


def _typical_rhythm(model) -> None:
    """Untrained rhythm heads are uniform over 0..192 twelfths (riffs of many minutes): bias
    them towards eighths, sixteenths and quarters as a trained run does, so that the audio,
    tab and MusicXML are timed on riffs of a realistic length (200 tokens ~ 40 s at 120)."""
    for name in ("next_delta", "next_duration"):
        layer = model.get_layer(name)
        kernel, bias = layer.get_weights()
        bias[[3, 6, 12]] += [9.0, 11.0, 8.0]
        layer.set_weights([kernel * 0.1, bias])


def _peaked_tokens(model, zipf_exponent: float = 1.4, kernel_scale: float = 40.0) -> None:
    """Untrained, the token head is nearly uniform over 4,405 tokens (perplexity ~4,400), so
    top-p would sort almost the whole vocabulary every step; a trained run's next-token
    perplexity is ~25-40. A Zipf bias (exponent 1.4: perplexity ~34 over 4,405 ranks) and a
    scaled kernel (so the context still moves it) give a head of that order; the bench
    prints the perplexity reached, so top-p is timed as a user meets it."""
    layer = model.get_layer("next_token")
    kernel, bias = layer.get_weights()
    ranks = np.random.default_rng(0).permutation(len(bias)) + 1
    layer.set_weights([kernel * kernel_scale, -zipf_exponent * np.log(ranks)])


def output_perplexity(run: LoadedRun, steps: int = 50) -> float:
    """exp(mean entropy) of the token head along a greedy walk: how peaked it is."""
    net = run.network
    state = net.initial_state(1)
    token, entropies = np.array([1]), []
    for _ in range(steps):
        logits, _, state = net.token_step(token, np.array([6]), np.array([6]), np.array([0]),
                                          state)
        probabilities = softmax(logits)
        entropies.append(float(-(probabilities * np.log(probabilities + 1e-12)).sum()))
        token = np.array([int(np.argmax(probabilities[0, 1:])) + 1])
    return float(np.exp(np.mean(entropies)))


def best_of(repeats: int, action) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of `repeats` calls: CPU time says what the work
    costs when other processes share the 2 cores (sampling runs on one BLAS thread)."""
    times = []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        action()
        times.append((time.perf_counter() - started, time.process_time() - cpu))
    return min(times)


def post_loop_seconds_per_note(model, vocabulary_size: int, window: int, notes: int) -> float:
    """The post's generation loop: predict on the whole window, append, slide, per note."""
    rng = np.random.default_rng(0)
    inputs = {name: rng.integers(1, 48, (1, window)).astype("int32")
              for name in ("deltas", "durations")}
    inputs["tokens"] = rng.integers(1, vocabulary_size, (1, window)).astype("int32")
    inputs["next_tokens"] = np.roll(inputs["tokens"], -1, axis=1)
    model.predict(inputs, verbose=0)  # the first call builds the predict function
    started = time.perf_counter()
    for _ in range(notes):
        probabilities = model.predict(inputs, verbose=0)["next_token"][0, -1]
        chosen = int(np.argmax(probabilities))
        inputs["tokens"] = np.append(inputs["tokens"][:, 1:], [[chosen]], axis=1)
    return (time.perf_counter() - started) / notes


def click_seconds(run: LoadedRun, tokens: int, variations: int) -> dict:
    """What one Generate click costs in the page: sampling then every output of each riff."""
    from deeprock.generation.outputs import OutputOptions, riff_files
    from deeprock.generation.roll import riff_roll
    from deeprock.generation.stats import riff_stats

    parts = {}
    started = time.perf_counter()
    result = generate(run, Primer.none(), GenerationRequest(tokens, seed=1,
                                                            variations=variations))
    parts["sampling"] = time.perf_counter() - started
    parts["riff_seconds_at_120"] = result.riffs[0].end_twelfths() / 12 / 2
    # as the page: MIDI, WAV and tab at the click; GP5 and MusicXML when their download is
    # clicked (timed apart, not in the total)
    for name, action in (("MIDI + WAV + tab", lambda riff: riff_files(riff, OutputOptions(),
                                                                      ("mid", "wav", "txt"))),
                         ("piano roll", riff_roll), ("statistics", riff_stats)):
        begun = time.perf_counter()
        for riff in result.riffs:
            action(riff)
        parts[name] = time.perf_counter() - begun
    parts["total"] = time.perf_counter() - started
    for kind in ("gp5", "musicxml"):
        begun = time.perf_counter()
        riff_files(result.riffs[0], OutputOptions(), (kind,))
        parts[f"{kind} on its download click"] = time.perf_counter() - begun
    return {name: round(seconds, 3) for name, seconds in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocabulary", type=int, default=4405)
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--post-notes", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    run, model = bench_run(args.vocabulary)
    one = GenerationRequest(args.tokens, seed=1)
    eight = GenerationRequest(args.tokens, seed=1, variations=8)
    generate(run, Primer.none(), GenerationRequest(20))  # warm caches
    single, single_cpu = best_of(3, lambda: generate(run, Primer.none(), one))
    batched, batched_cpu = best_of(3, lambda: generate(run, Primer.none(), eight))
    greedy = GenerationRequest(args.tokens, seed=1, sampling=one.sampling.__class__(
        temperature=0, top_p=1.0, repetition_penalty=1.0, max_repeat=0))
    forward_only = best_of(3, lambda: generate(run, Primer.none(), greedy))[0]
    post = post_loop_seconds_per_note(model, args.vocabulary, 64, args.post_notes)
    clicks = [click_seconds(run, 200, 1) for _ in range(2)]
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "vocabulary": args.vocabulary, "tokens": args.tokens,
        "token_head_perplexity": round(output_perplexity(run), 1),
        "load_average_1min": os.getloadavg()[0],
        "one_variation_seconds": round(single, 3), "one_variation_cpu": round(single_cpu, 3),
        "eight_variations_seconds": round(batched, 3),
        "eight_variations_cpu": round(batched_cpu, 3),
        "batch8_over_batch1": round(batched / single, 2),
        "greedy_no_guard_seconds": round(forward_only, 3),
        "post_loop_seconds_per_note": round(post, 4),
        "post_loop_seconds_for_tokens": round(post * args.tokens, 1),
        "speedup_over_post": round(post * args.tokens / single, 1),
        "click_200_tokens": min(clicks, key=lambda c: c["total"]),
        "click_total_median": statistics.median(c["total"] for c in clicks),
    }
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
