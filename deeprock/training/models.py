"""Keras 3 architectures, backend-agnostic (keras.layers and keras.ops only).

    model = build_model(ModelSettings(arch="deeprock"), vocabulary_size=2000)

"seed": the post's network (docs/architecture.md): token ids scaled to zero mean and unit variance
as a (seq_len, 1) input, LSTM 256 → Dropout 0.3 → LSTM 256 → Dense 128 → Dropout 0.3 → softmax,
Adam with InverseTimeDecay(lr, 1, 0.01), one next-token target per window. The scaling is a
Normalization layer inside the model, so a saved model needs nothing else to run.

"deeprock": embeddings of token, delta class, duration class and bar position ("positions", the
token's place in its bar; absent in runs trained before positions) → stacked LSTMs
(cuDNN-compatible: tanh/sigmoid, no recurrent dropout, unroll off, use_cudnn="auto") → three
softmax heads, trained on every position (sequence to sequence). The rhythm heads also see the
embedding of the token they time (the target during training, the sampled one when generating):
a chord and a fast lick do not share a duration. Layer names are a contract with generation's
numpy inference: token_embedding, delta_embedding, duration_embedding, position_embedding,
artist_embedding (a conditioned run's: its "artists" input holds the window's artist id at every
step, 0 "any"; deeprock/training/conditioning.py), lstm_0..lstm_{n-1}, next_token,
rhythm_context, next_delta, next_duration.

"transformer": decoder-only and causal, rotary positions over tokens (its attention layer is
deeprock/training/transformer.py); inputs as "deeprock", "positions" always among them;
concatenated, projected to d_model (`units`), `layers` pre-norm blocks, the same three heads.
A figure from a bar ago is one attention lookup away, where an LSTM must carry it through its
state. Layer names, the numpy inference's contract: token_embedding, delta_embedding,
duration_embedding, position_embedding, artist_embedding (conditioned), joined_projection,
block_{i}_attention_norm, block_{i}_attention, block_{i}_ff_norm, block_{i}_ff_in,
block_{i}_ff_out, final_norm, next_token, rhythm_context, next_delta, next_duration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from deeprock.training.vocab import POSITION_CLASSES, RHYTHM_CLASSES

ARCHITECTURES = ("seed", "deeprock", "transformer")
HEADS = ("next_token", "next_delta", "next_duration")
# The transformer's fixed numerics, shared with its numpy inference (which needs no Keras)
ROPE_BASE = 10000.0
LAYER_NORM_EPSILON = 1e-5


@dataclass
class ModelSettings:
    arch: str = "deeprock"
    units: int = 256  # LSTM units; the transformer's d_model
    layers: int = 2  # stacked LSTMs; the transformer's blocks
    embedding: int = 64  # token embedding size
    rhythm_embedding: int = 16  # delta, duration (and transformer: bar position) embedding sizes
    dropout: float = 0.3
    input_dropout: float = 0.1
    rhythm_loss_weight: float = 0.5  # each rhythm head's weight against the token head's 1
    learning_rate: float = 0.005
    clipnorm: float = 1.0
    heads: int = 4  # transformer: attention heads (units / heads must be even)
    ff_multiplier: int = 4  # transformer: feed-forward width in units
    positions: bool = True  # deeprock: read the bar position (False: a run from before them)
    condition: str = "none"  # "artist": an "artists" input, one id a window (conditioning.py)
    artist_embedding: int = 16  # the artist embedding's size (condition "artist")

    def to_dict(self) -> dict:
        return asdict(self)


def takes_positions(settings: ModelSettings) -> bool:
    """Whether the network has a "positions" input (the seed, the post's, never has)."""
    return settings.arch == "transformer" or (settings.arch == "deeprock" and settings.positions)


def takes_artists(settings: ModelSettings) -> bool:
    """Whether the network has an "artists" input (a conditioned deeprock or transformer)."""
    return settings.condition == "artist" and settings.arch != "seed"


def build_model(settings: ModelSettings, vocabulary_size: int, seq_len: int | None = None,
                id_mean: float = 0.0, id_std: float = 1.0, jit_compile: str | bool = "auto",
                artists: int = 0):
    """A compiled model of the chosen architecture; artists: the artist table's size (a
    conditioned run's embedding rows)."""
    if takes_artists(settings) and artists < 1:
        raise ValueError("a conditioned model needs its artist table's size")
    if settings.arch == "seed":
        model = _seed_network(vocabulary_size, seq_len, id_mean, id_std)
    elif settings.arch == "deeprock":
        model = _deeprock_network(settings, vocabulary_size, artists)
    elif settings.arch == "transformer":
        model = _transformer_network(settings, vocabulary_size, artists)
    else:
        raise ValueError(f"unknown architecture {settings.arch!r}: choose one of {ARCHITECTURES}")
    compile_model(model, settings, jit_compile)
    return model


def compile_model(model, settings: ModelSettings, jit_compile: str | bool) -> None:
    """The optimizer at settings.learning_rate and the losses: a new model's, or a finished
    run's weights continued at another rate (fine-tuning)."""
    import keras

    if settings.arch == "seed":
        schedule = keras.optimizers.schedules.InverseTimeDecay(settings.learning_rate, 1, 0.01)
        optimizer = keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.999)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=jit_compile)
        return
    optimizer = keras.optimizers.Adam(settings.learning_rate,
                                      clipnorm=settings.clipnorm or None)  # 0: no clipping
    weights = {"next_token": 1.0, "next_delta": settings.rhythm_loss_weight,
               "next_duration": settings.rhythm_loss_weight}
    model.compile(optimizer=optimizer,
                  loss={head: "sparse_categorical_crossentropy" for head in HEADS},
                  loss_weights=weights, metrics={head: ["accuracy"] for head in HEADS},
                  jit_compile=jit_compile)


def _seed_network(vocabulary_size: int, seq_len: int | None, id_mean: float, id_std: float):
    from keras import Input, Model, layers

    ids = Input((seq_len, 1), name="tokens")
    x = layers.Normalization(mean=id_mean, variance=max(id_std, 1e-6) ** 2, name="scale")(ids)
    x = layers.LSTM(256, return_sequences=True, name="lstm_0")(x)
    x = layers.Dropout(0.3)(x)
    x = layers.LSTM(256, name="lstm_1")(x)
    x = layers.Dense(128, name="dense")(x)
    x = layers.Dropout(0.3)(x)
    out = layers.Dense(vocabulary_size, activation="softmax", dtype="float32",
                       name="next_token")(x)
    return Model(ids, out, name="seed")


def _deeprock_network(settings: ModelSettings, vocabulary_size: int, artists: int):
    from keras import Input, Model, layers

    names = ("tokens", "deltas", "durations", "next_tokens",
             *(("positions",) if settings.positions else ()),
             *(("artists",) if takes_artists(settings) else ()))
    inputs = {name: Input((None,), dtype="int32", name=name) for name in names}
    token_embedding, x = _joined_inputs(settings, inputs, vocabulary_size, artists)
    for layer in range(settings.layers):
        x = layers.LSTM(settings.units, return_sequences=True, use_cudnn="auto",
                        name=f"lstm_{layer}")(x)
        x = layers.Dropout(settings.dropout)(x)
    token_head = layers.Dense(vocabulary_size, activation="softmax", dtype="float32",
                              name="next_token")(x)
    context = layers.Concatenate(name="hidden_and_token")(
        [x, token_embedding(inputs["next_tokens"])])
    context = layers.Dense(settings.units // 2, activation="relu", name="rhythm_context")(context)
    delta_head = layers.Dense(RHYTHM_CLASSES, activation="softmax", dtype="float32",
                              name="next_delta")(context)
    duration_head = layers.Dense(RHYTHM_CLASSES, activation="softmax", dtype="float32",
                                 name="next_duration")(context)
    return Model(inputs, {"next_token": token_head, "next_delta": delta_head,
                          "next_duration": duration_head}, name="deeprock")


def _joined_inputs(settings: ModelSettings, inputs: dict, vocabulary_size: int, artists: int):
    """(token embedding layer, the embeddings of token, delta, duration and, when inputs, bar
    position and artist concatenated in that order, with input dropout): the numpy inference
    folds them in this order. The artist id is fed at every step, like the position."""
    from keras import layers

    token_embedding = layers.Embedding(vocabulary_size, settings.embedding,
                                       name="token_embedding")
    embedded = [layers.Embedding(classes, size, name=f"{name}_embedding")(inputs[key])
                for name, key, classes, size in (
                    ("delta", "deltas", RHYTHM_CLASSES, settings.rhythm_embedding),
                    ("duration", "durations", RHYTHM_CLASSES, settings.rhythm_embedding),
                    ("position", "positions", POSITION_CLASSES, settings.rhythm_embedding),
                    ("artist", "artists", artists, settings.artist_embedding))
                if key in inputs]
    x = layers.Concatenate(name="joined")([token_embedding(inputs["tokens"]), *embedded])
    return token_embedding, layers.Dropout(settings.input_dropout)(x)


def _transformer_network(settings: ModelSettings, vocabulary_size: int, artists: int):
    """Inputs and heads by name; embeddings concatenated, then projected to d_model."""
    from keras import Input, Model, layers

    names = ("tokens", "deltas", "durations", "positions", "next_tokens",
             *(("artists",) if takes_artists(settings) else ()))
    inputs = {name: Input((None,), dtype="int32", name=name) for name in names}
    token_embedding, x = _joined_inputs(settings, inputs, vocabulary_size, artists)
    x = layers.Dense(settings.units, name="joined_projection")(x)
    for block in range(settings.layers):
        x = _transformer_block(x, settings, f"block_{block}")
    x = layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="final_norm")(x)
    token_head = layers.Dense(vocabulary_size, activation="softmax", dtype="float32",
                              name="next_token")(x)
    context = layers.Concatenate(name="hidden_and_token")(
        [x, token_embedding(inputs["next_tokens"])])
    context = layers.Dense(settings.units // 2, activation="relu", name="rhythm_context")(context)
    heads = {"next_token": token_head}
    for head in ("next_delta", "next_duration"):
        heads[head] = layers.Dense(RHYTHM_CLASSES, activation="softmax", dtype="float32",
                                   name=head)(context)
    return Model(inputs, heads, name="transformer")


def _transformer_block(x, settings: ModelSettings, name: str):
    """Pre-norm: x + attention(norm(x)), then x + feed-forward(norm(x)), dropout on each branch."""
    from keras import layers

    from deeprock.training.transformer import CausalSelfAttention

    branch = layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON,
                                       name=f"{name}_attention_norm")(x)
    branch = CausalSelfAttention(settings.heads, ROPE_BASE, name=f"{name}_attention")(branch)
    x = layers.Add()([x, layers.Dropout(settings.dropout)(branch)])
    branch = layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=f"{name}_ff_norm")(x)
    branch = layers.Dense(settings.units * settings.ff_multiplier, activation="silu",
                          name=f"{name}_ff_in")(branch)
    branch = layers.Dense(settings.units, name=f"{name}_ff_out")(branch)
    return layers.Add()([x, layers.Dropout(settings.dropout)(branch)])


def load_model(path: str):
    """A saved run model; safe_mode=True: a model file can never run code on load."""
    import keras

    import deeprock.training.transformer  # noqa: F401  registers its layer for deserialization

    return keras.models.load_model(path, safe_mode=True, compile=True)
