"""Where training runs: the backend, the device, whether the LSTMs get the cuDNN kernel, and
the GPU options (mixed precision, XLA, several GPUs)."""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from dataclasses import dataclass


def facts(config) -> dict:
    """Recorded in config.json and status.json; shown by the Train page."""
    import keras
    import numpy

    backend = keras.backend.backend()
    gpus = _gpu_names(backend)
    device = ", ".join(gpus) if gpus else f"CPU ({os.cpu_count()} cores, {platform.machine()})"
    # keras.layers.LSTM takes cuDNN by itself on a GPU when its settings allow (tanh/sigmoid,
    # no recurrent dropout, unroll off): both architectures keep those settings
    return {"backend": backend, "device": device, "cudnn": bool(gpus),
            "versions": {"keras": keras.__version__, "numpy": numpy.__version__,
                         backend: _backend_version(backend), "python": platform.python_version()}}


def _gpu_names(backend: str) -> list[str]:
    if backend == "tensorflow":
        import tensorflow as tf

        return [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
                for gpu in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def _backend_version(backend: str) -> str:
    import importlib

    return getattr(importlib.import_module(backend), "__version__", "?")


def set_precision(precision: str) -> None:
    """float32, or mixed_float16 / mixed_bfloat16 (worth it on a GPU; the heads stay float32)."""
    import keras

    if precision not in ("float32", "mixed_float16", "mixed_bfloat16"):
        raise ValueError(f"precision must be float32, mixed_float16 or mixed_bfloat16, "
                         f"not {precision!r}")
    keras.mixed_precision.set_global_policy(precision)


def jit_flag(choice: str) -> str | bool:
    return {"auto": "auto", "on": True, "off": False}[choice]


def strategy(name: str):
    """A context for building the model: several GPUs of one machine ("mirrored"), several
    machines ("multiworker", JAX only), or none."""
    if name == "none":
        return contextlib.nullcontext()
    import keras

    if name == "multiworker":
        return contextlib.nullcontext()  # joined by join_workers, before JAX starts
    if name != "mirrored":
        raise ValueError(f"distribute must be none, mirrored or multiworker, not {name!r}")

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.MirroredStrategy().scope()
    if keras.backend.backend() == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return contextlib.nullcontext()
    raise ValueError("--distribute mirrored needs the tensorflow or jax backend")


@dataclass(frozen=True)
class Worker:
    """This process's place among the machines of a multi-worker run (from the environment)."""

    coordinator: str
    count: int
    index: int


def worker() -> Worker | None:
    """DEEPROCK_COORDINATOR (host:port of worker 0), DEEPROCK_WORKERS, DEEPROCK_WORKER_INDEX."""
    address = os.environ.get("DEEPROCK_COORDINATOR")
    if not address:
        return None
    try:
        count, index = (int(os.environ[name]) for name in ("DEEPROCK_WORKERS",
                                                           "DEEPROCK_WORKER_INDEX"))
    except (KeyError, ValueError) as error:
        raise ValueError("a multi-worker run needs DEEPROCK_WORKERS and DEEPROCK_WORKER_INDEX "
                         "as integers beside DEEPROCK_COORDINATOR") from error
    if not 0 <= index < count:
        raise ValueError(f"DEEPROCK_WORKER_INDEX {index} is not in 0..{count - 1}")
    return Worker(address, count, index)


def join_workers(distribute: str) -> Worker | None:
    """For --distribute multiworker, join the other machines (before anything touches JAX)
    and return this worker's place; None for every other choice."""
    if distribute != "multiworker":
        return None
    return _join_workers()


@functools.cache
def _join_workers() -> Worker:
    """Keras 3's own multi-process data parallelism on JAX. TensorFlow's
    MultiWorkerMirroredStrategy fails inside Keras 3's fit (keras-team/keras#20585), so it is
    not offered. Each worker feeds its own share of every batch (auto_shard_dataset=False)."""
    import keras

    if keras.backend.backend() != "jax":
        raise ValueError("--distribute multiworker runs on JAX: set KERAS_BACKEND=jax "
                         "(TensorFlow's multi-worker strategy fails in Keras 3, "
                         "keras-team/keras#20585)")
    place = worker()
    if place is None:
        raise ValueError("--distribute multiworker needs DEEPROCK_COORDINATOR=host:port, "
                         "DEEPROCK_WORKERS=N and DEEPROCK_WORKER_INDEX=i on every machine")
    keras.distribution.initialize(place.coordinator, place.count, place.index)
    keras.distribution.set_distribution(keras.distribution.DataParallel(
        devices=keras.distribution.list_devices(), auto_shard_dataset=False))
    return place
