"""What TensorFlow can compute on. Imported lazily: TensorFlow takes seconds to load."""

from __future__ import annotations

import functools


@functools.cache
def describe_devices() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    cpus = tf.config.list_physical_devices("CPU")
    if gpus:
        names = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name)
                          for g in gpus)
        return f"TensorFlow {tf.__version__}: {len(gpus)} GPU ({names}); training uses the GPU."
    return (f"TensorFlow {tf.__version__}: no GPU, {len(cpus)} CPU device(s); "
            "training runs on the CPU.")
