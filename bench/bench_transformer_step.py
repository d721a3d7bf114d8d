"""Transformer generation speed: the numpy key/value-cache step against the Keras model run on the
whole window for every token, and against what a compiled cached step would at least cost.
Results go to bench/RESULTS.md ("Transformer step").

    nice .venv/bin/python bench/bench_transformer_step.py [--tokens 500] [--units 256] [--json]

The model is a "transformer" of ModelSettings' default size (d_model 256, 2 blocks, 4 heads,
feed-forward 1,024) unless --units/--layers say otherwise, over a vocabulary of the shared
corpus's size (4,405), context 256; untrained weights change nothing in the arithmetic. Each
step is what generation does per token: token_step, the rhythm heads for the chosen token, and
the choice (argmax here: sampling is bench_generate.py's). One BLAS thread, as generate.py
runs. A compiled cached step pays at least one call of the step's dense products (the two
blocks' and the token head's): that call is timed in a tf.function and a jax.jit as its floor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from bench_generate import best_of
from threadpoolctl import threadpool_limits

from deeprock.generation.attention_inference import TransformerNetwork
from deeprock.generation.weights import read_keras_weights
from deeprock.training.models import ModelSettings, build_model

INPUTS = ("tokens", "deltas", "durations", "positions", "next_tokens")


def cached_generation(net: TransformerNetwork, tokens: int, batch: int) -> None:
    """`tokens` steps of batch rows from an empty cache, restarts past the context included."""
    state = net.initial_state(batch)
    token, classes = np.ones(batch, np.int32), np.full(batch, 6, np.int32)
    for step in range(tokens):
        logits, hidden, state = net.token_step(token, classes, classes, (classes * step) % 48,
                                               state)
        token = logits.argmax(axis=-1).astype(np.int32)
        net.rhythm(hidden, token)


def keras_seconds_per_step(model, vocabulary: int, window: int, steps: int) -> dict:
    """The model run on the whole last window for every token (eager call, and compiled in a
    tf.function at a fixed window): the steady state past `window` tokens."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    inputs = {name: rng.integers(1, 40, (1, window)).astype(np.int32) for name in INPUTS}
    inputs["tokens"] = rng.integers(1, vocabulary, (1, window)).astype(np.int32)
    compiled = tf.function(lambda x: model(x, training=False)["next_token"][:, -1])
    result = {}
    for name, call in (("eager", lambda x: model(x, training=False)["next_token"][:, -1]),
                       ("tf.function", compiled)):
        call(inputs)  # the first call traces
        started = time.perf_counter()
        for _ in range(steps):
            chosen = int(np.argmax(np.asarray(call(inputs))[0]))
            inputs["tokens"] = np.append(inputs["tokens"][:, 1:], [[chosen]], axis=1)
        result[name] = (time.perf_counter() - started) / steps
    return result


def dense_products(net: TransformerNetwork) -> list[np.ndarray]:
    """The matrices one cached step multiplies by, in order."""
    kernels = []
    for block in net.blocks:
        kernels += [block.qkv_kernel, block.output_kernel, block.ff_in_kernel,
                    block.ff_out_kernel]
    return [*kernels, net.token_kernel]


def compiled_floor_seconds(net: TransformerNetwork, calls: int) -> dict:
    """One compiled call of a step's dense products alone (no attention, no norms): the least a
    tf.function or jax.jit step could cost at batch 1; (wall, CPU) seconds a call."""
    import jax
    import jax.numpy as jnp
    import tensorflow as tf

    kernels = dense_products(net)
    width = net.blocks[0].width

    def products(x, kernels):
        for qkv, output, ff_in, ff_out in zip(*[iter(kernels[:-1])] * 4, strict=True):
            x = (x @ qkv)[:, :width] @ output
            x = (x @ ff_in) @ ff_out
        return x @ kernels[-1]

    x = np.ones((1, width), np.float32)
    tf_kernels = [tf.constant(k) for k in kernels]
    jax_kernels = [jnp.asarray(k) for k in kernels]
    candidates = {"tf.function": (tf.function(products), tf.constant(x), tf_kernels),
                  "jax.jit": (jax.jit(products), jnp.asarray(x), jax_kernels),
                  "numpy": (products, x, kernels)}
    result = {}
    for name, (call, argument, weights) in candidates.items():
        np.asarray(call(argument, weights))  # the first call traces

        def repeated(call=call, argument=argument, weights=weights):
            for _ in range(calls):
                np.asarray(call(argument, weights))

        result[name] = [seconds / calls for seconds in best_of(3, repeated)]
    return result


def build_network(settings: ModelSettings, vocabulary: int, context: int):
    model = build_model(settings, vocabulary, jit_compile=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.keras"
        model.save(path)
        return model, TransformerNetwork(read_keras_weights(path), context=context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocabulary", type=int, default=4405)
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--units", type=int, default=ModelSettings.units)
    parser.add_argument("--layers", type=int, default=ModelSettings.layers)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--keras-steps", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = ModelSettings(arch="transformer", units=args.units, layers=args.layers)
    model, net = build_network(settings, args.vocabulary, args.context)
    with threadpool_limits(limits=1, user_api="blas"):
        cached_generation(net, 20, 1)  # warm caches
        report = {"machine": f"{platform.processor() or platform.machine()}, "
                             f"{os.cpu_count()} cores",
                  "load_average_1min": os.getloadavg()[0], "parameters": model.count_params(),
                  "units": args.units, "layers": args.layers, "context": args.context}
        for batch in (1, 8):
            wall, cpu = best_of(3, lambda batch=batch: cached_generation(net, args.tokens, batch))
            report[f"numpy_cached_batch{batch}_seconds"] = round(wall, 3)
            report[f"numpy_cached_batch{batch}_cpu"] = round(cpu, 3)
        report["batch8_over_batch1"] = round(report["numpy_cached_batch8_seconds"]
                                             / report["numpy_cached_batch1_seconds"], 2)
        floor = compiled_floor_seconds(net, 200)
    for name, (wall, cpu) in floor.items():
        report[f"dense_products_only_{name}_ms"] = round(wall * 1e3, 3)
        report[f"dense_products_only_{name}_cpu_ms"] = round(cpu * 1e3, 3)
    keras = keras_seconds_per_step(model, args.vocabulary, args.context, args.keras_steps)
    for name, seconds in keras.items():
        report[f"keras_full_window_{name}_ms_per_step"] = round(seconds * 1e3, 1)
        report[f"keras_full_window_{name}_seconds_for_tokens"] = round(seconds * args.tokens, 1)
    report["load_average_1min_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
