"""The "transformer" architecture's own layer: causal self-attention with rotary positions.

    x = CausalSelfAttention(heads=4, rope_base=10000.0, name="block_0_attention")(x)

deeprock/training/models.py builds the network around it; registered as serializable (with
get_config), so a run model loads with safe_mode=True and needs no Lambda layer. Core Keras only
(keras_hub would pull tensorflow-text). Rotary positions (RoPE, Su et al. 2021) make every
attention score depend only on the distance between two tokens, which is what lets generation
slide its key/value cache past the trained context (deeprock/generation/attention_inference.py).
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="deeprock")
class CausalSelfAttention(layers.Layer):
    """Multi-head causal self-attention with rotary positions over the token index.

    get_weights() order (what the numpy inference reads): qkv kernel (d, 3d), qkv bias (3d,),
    output kernel (d, d), output bias (d,). The qkv columns are [queries | keys | values], each
    split into `heads` consecutive slices of d / heads. The rotation is GPT-NeoX's: a head's first
    half and second half are the two coordinates of each rotated pair.
    """

    def __init__(self, heads: int, rope_base: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.heads, self.rope_base = heads, rope_base

    def build(self, input_shape) -> None:
        width = input_shape[-1]
        if width % self.heads or (width // self.heads) % 2:
            raise ValueError(f"d_model {width} must split into {self.heads} heads of an even size")
        self.qkv_kernel = self.add_weight((width, 3 * width), "glorot_uniform", name="qkv_kernel")
        self.qkv_bias = self.add_weight((3 * width,), "zeros", name="qkv_bias")
        self.output_kernel = self.add_weight((width, width), "glorot_uniform",
                                             name="output_kernel")
        self.output_bias = self.add_weight((width,), "zeros", name="output_bias")

    def call(self, inputs):
        width = inputs.shape[-1]
        size = width // self.heads
        steps = ops.shape(inputs)[1]
        qkv = ops.matmul(inputs, self.qkv_kernel) + self.qkv_bias
        qkv = ops.reshape(qkv, (-1, steps, 3, self.heads, size))
        cos, sin = self._rotation(steps, size)
        queries = self._rotate(qkv[:, :, 0], cos, sin)
        keys = self._rotate(qkv[:, :, 1], cos, sin)
        values = ops.transpose(qkv[:, :, 2], (0, 2, 1, 3))  # (batch, heads, steps, size)
        scores = ops.matmul(ops.transpose(queries, (0, 2, 1, 3)), ops.transpose(keys, (0, 2, 3, 1)))
        scores = ops.cast(scores, "float32") / float(size) ** 0.5
        index = ops.arange(steps)
        causal = ops.expand_dims(index, 1) >= ops.expand_dims(index, 0)
        scores = ops.where(causal, scores, -1e9)  # the diagonal is always open: no empty row
        weights = ops.cast(ops.softmax(scores, axis=-1), values.dtype)
        mixed = ops.reshape(ops.transpose(ops.matmul(weights, values), (0, 2, 1, 3)),
                            (-1, steps, width))
        return ops.matmul(mixed, self.output_kernel) + self.output_bias

    def _rotation(self, steps, size: int):
        """cos and sin of every (token index, frequency) angle, shaped (1, steps, 1, size / 2);
        the angle is a float32 product, as the numpy inference computes it."""
        exponents = ops.arange(0, size, 2, dtype="float32") / float(size)
        frequencies = 1.0 / ops.power(ops.cast(self.rope_base, "float32"), exponents)
        angles = ops.expand_dims(ops.cast(ops.arange(steps), "float32"), 1) * frequencies
        angles = ops.expand_dims(ops.expand_dims(angles, 0), 2)
        return (ops.cast(ops.cos(angles), self.compute_dtype),
                ops.cast(ops.sin(angles), self.compute_dtype))

    @staticmethod
    def _rotate(x, cos, sin):
        first, second = ops.split(x, 2, axis=-1)
        return ops.concatenate([first * cos - second * sin, second * cos + first * sin], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "heads": self.heads, "rope_base": self.rope_base}
