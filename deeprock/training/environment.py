"""Where training runs: the backend, the device, whether the LSTMs get the cuDNN kernel, and
the GPU options (mixed precision, XLA, several GPUs)."""

from __future__ import annotations

import contextlib
import os
import platform


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
    """A context for building the model: several GPUs of one machine ("mirrored"), or none."""
    if name == "none":
        return contextlib.nullcontext()
    if name != "mirrored":
        raise ValueError(f"distribute must be none or mirrored, not {name!r}")
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.MirroredStrategy().scope()
    if keras.backend.backend() == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return contextlib.nullcontext()
    raise ValueError("--distribute mirrored needs the tensorflow or jax backend")
