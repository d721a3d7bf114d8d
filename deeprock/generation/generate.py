"""From a run folder to riffs: load it with clear errors, prime, sample with carried state.

    run = load_run("models/demo")                       # RunError says what is wrong
    result = generate(run, Primer.none(), GenerationRequest(length_tokens=200, seed=7))
    result.riffs[0]                                     # a Riff per variation

"deeprock" runs time each token with their rhythm heads. "seed" runs (the post's network) only
choose the next token; their rhythm is drawn from the training side's delta/duration statistics
(rhythm.json, the default) or the post's fixed 0.3 quarters spacing ("fixed"). All variations
advance together, one batched forward pass per step; each has its own Generator. A generated
token's bar position follows from its delta: the previous position plus the delta, folded over
the bar length of the primer's last meter (the riff's meter, request.bar_twelfths, without a
primer); runs trained before positions read none. Lengths in bars (--bars, loop bars) count bars
of the riff's meter.
A conditioned run (artists.json) generates "in the style of" `request.artist` ("any":
unconditioned); asking a run without conditioning for an artist is a ValueError.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from deeprock.generation.constraints import AUTO, Steering, check_key_settings, prepare
from deeprock.generation.inference import broadcast_state, numpy_network
from deeprock.generation.loop import LoopSettings, loop_riff
from deeprock.generation.originality import DEFAULT_MAX_COPY
from deeprock.generation.primers import MAX_GAP_TWELFTHS, Primer
from deeprock.generation.repeat_prior import RepeatPrior
from deeprock.generation.riff import Riff
from deeprock.generation.sampling import (
    BEFORE_REPEAT_PRIOR,
    SamplingSettings,
    log_counts,
    pick,
    pick_classes,
    pick_tokens,
    variation_generators,
)
from deeprock.generation.weights import WeightsError, read_keras_weights
from deeprock.music.tokens import TWELFTHS_PER_BAR, TWELFTHS_PER_QUARTER
from deeprock.training.conditioning import ANY as ANY_ARTIST
from deeprock.training.runs import RunSplit
from deeprock.training.vocab import (
    LONGER,
    MAX_RHYTHM_TWELFTHS,
    RHYTHM_CLASSES,
    position_classes,
    rhythm_classes,
)

MAX_TOKENS = 2000
MAX_BARS = 128
MAX_VARIATIONS = 16
TURNAROUND_STREAM = 2**32  # turnaround draws: [seed, 2**32 + variation], no figure's stream
RHYTHM_MODES = ("model", "statistics", "fixed")
FIXED_SPACING_QUARTERS = 0.3  # the post's offset between generated notes
FIXED_DURATION_TWELFTHS = TWELFTHS_PER_QUARTER  # the post's notes kept music21's default quarter
# generated deltas: no two tokens at one onset and at most a two-bar gap (songs rest for whole
# verses; a riff that stops for 30 s is not a riff); durations 1 twelfth to four bars
DELTA_ALLOWED = (np.arange(RHYTHM_CLASSES) > 0) & (np.arange(RHYTHM_CLASSES) <= MAX_GAP_TWELFTHS)
DURATION_ALLOWED = np.arange(RHYTHM_CLASSES) > 0
DURATION_ALLOWED[LONGER] = False


class RunError(ValueError):
    """A run folder generation cannot use: the message names the folder and the problem."""


@dataclass
class LoadedRun:
    path: Path
    config: object  # RunConfig
    vocabulary: object  # RunVocabulary
    network: object  # DeeprockNetwork | SeedNetwork
    split: RunSplit  # the tracks the window primers and the riff statistics read
    delta_counts: np.ndarray
    duration_counts: np.ndarray
    artists: object = None  # conditioning.ArtistTable of a conditioned run, else None

    @property
    def arch(self) -> str:
        return self.config.model.arch

    @property
    def window_tokens(self) -> int:
        return int(self.config.data.seq_len)

    def artist_id(self, name: str) -> int:
        """The model's input id for `name` ("any": 0); a ValueError says why not."""
        if self.artists is None:
            if name == ANY_ARTIST:
                return 0
            raise ValueError(f"run {self.path} was trained without artist conditioning: it "
                             f"cannot generate in the style of {name!r} (train one with "
                             "deeprock train --condition artist)")
        return self.artists.id_of(name)

    def style_artists(self, name: str) -> tuple[str, ...]:
        """The catalog artists whose training windows prime a riff in the style of `name`
        (none: any artist's); an unknown name is artist_id's ValueError."""
        self.artist_id(name)
        return () if self.artists is None else self.artists.members(name)


def check_run_folder(path: str | Path):
    """The run's files (runs.RunFiles), or a RunError; no Keras needed."""
    from deeprock.training.models import ARCHITECTURES
    from deeprock.training.runs import RunFolderError, read_run

    try:
        files = read_run(path)
    except RunFolderError as error:
        raise RunError(str(error)) from error
    if files.config.model.arch not in ARCHITECTURES:
        raise RunError(f"run {path} has architecture {files.config.model.arch!r}; this version "
                       f"generates with {' or '.join(ARCHITECTURES)}")
    return files


def load_run(path: str | Path) -> LoadedRun:
    """Config, vocabulary, best.keras's weights (read as data, never run) as its numpy twin,
    split and rhythm: no TensorFlow, no Keras (weights.py says why)."""
    from deeprock.training.runs import BEST

    run = Path(path)
    files = check_run_folder(run)
    config, vocabulary = files.config, files.vocabulary
    try:
        network = numpy_network(read_keras_weights(run / BEST), int(config.data.seq_len))
    except (WeightsError, OSError, KeyError, ValueError) as error:  # damaged or foreign file
        raise RunError(f"run {run}: {BEST} cannot be loaded ({type(error).__name__}: "
                       f"{str(error).splitlines()[0] if str(error) else 'no message'})") from error
    if network.arch != config.model.arch or network.vocabulary_size != len(vocabulary):
        raise RunError(f"run {run}: {BEST} is a {network.arch} model of "
                       f"{network.vocabulary_size} tokens, config.json and vocab.json say "
                       f"{config.model.arch} with {len(vocabulary)}")
    return LoadedRun(run, config, vocabulary, network, files.split,
                     _counts(files.rhythm.get("delta_counts")),
                     _counts(files.rhythm.get("duration_counts")), _artists(run, network))


def _artists(run: Path, network) -> object:
    """The artist table of a conditioned run; a RunError when the model and the folder
    disagree (an artist embedding without artists.json)."""
    from deeprock.training.conditioning import ArtistTable
    from deeprock.training.runs import ARTISTS

    if not getattr(network, "takes_artists", False):
        return None
    try:
        return ArtistTable.load(run / ARTISTS)
    except ValueError as error:
        raise RunError(f"run {run}: its model is conditioned on artists but {ARTISTS} cannot "
                       f"be read ({error})") from error


def _counts(values: list | None) -> np.ndarray:
    """Rhythm class counts; a quarter note's class alone when the run has no rhythm.json."""
    counts = np.zeros(RHYTHM_CLASSES, np.float64)
    if values is not None and len(values) == RHYTHM_CLASSES:
        counts[:] = values
    if not (counts * DELTA_ALLOWED).sum():
        counts[TWELFTHS_PER_QUARTER] = 1.0
    return counts


# what a settings.json from before the key and the guard meant: neither
UNSTEERED = {"scale": "any", "max_copy": 0}


@dataclass
class GenerationRequest:
    length_tokens: int = 200
    length_bars: int | None = None  # when set: generate until this many bars (token cap holds)
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    seed: int = 0
    variations: int = 1
    rhythm: str = "model"  # "deeprock": the heads; "seed": "statistics" (model = same) or "fixed"
    first_variation: int = 0  # variations first_variation .. + variations - 1 of this seed
    key: str = AUTO  # a root ("E", "F#"), or detected from the primer (constraints.py)
    scale: str = AUTO  # a scales.SCALES name, "any" (no steering), or detected
    strict: bool = False  # mask every token with a pitch outside the scale
    max_copy: int = DEFAULT_MAX_COPY  # the originality guard's K (0: off)
    loop: LoopSettings = field(default_factory=LoopSettings)  # loop.py; bars 0: free
    bar_twelfths: int = TWELFTHS_PER_BAR  # the riff meter's bar: what length_bars and loop count
    artist: str = ANY_ARTIST  # a conditioned run's artist (its artists.json); "any": unconditioned

    def checked(self) -> tuple[GenerationRequest, list[str]]:
        """A request within the limits (capped, with the messages), or a ValueError."""
        self.sampling.validated()
        check_key_settings(self.key, self.scale, self.max_copy)
        self.loop.checked()
        messages = []
        if self.length_tokens < 1 or (self.length_bars is not None and self.length_bars < 1):
            raise ValueError("the length must be at least 1 token (or 1 bar)")
        if self.bar_twelfths < 1:
            raise ValueError(f"a bar must last at least 1 twelfth, not {self.bar_twelfths}")
        if self.rhythm not in RHYTHM_MODES:
            raise ValueError(f"rhythm must be one of {RHYTHM_MODES}, not {self.rhythm!r}")
        if self.seed < 0:
            raise ValueError(f"the seed must be 0 or more, not {self.seed}")
        if not 1 <= self.variations <= MAX_VARIATIONS:
            raise ValueError(f"variations must be 1 to {MAX_VARIATIONS}, not {self.variations}")
        tokens, bars = self.length_tokens, self.length_bars
        if tokens > MAX_TOKENS:
            messages.append(f"length {tokens} tokens is capped at {MAX_TOKENS}")
            tokens = MAX_TOKENS
        if bars is not None:
            if bars > MAX_BARS:
                messages.append(f"length {bars} bars is capped at {MAX_BARS}")
                bars = MAX_BARS
            tokens = MAX_TOKENS
        if self.loop.bars:  # its first token may come MAX_GAP_TWELFTHS after the primer:
            # sample past that, then cut
            tokens = MAX_TOKENS
            bars = self.loop.bars + -(-MAX_GAP_TWELFTHS // self.bar_twelfths)
        return replace(self, length_tokens=tokens, length_bars=bars), messages

    def to_dict(self) -> dict:
        return {**asdict(self), "sampling": self.sampling.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> GenerationRequest:
        sampling = SamplingSettings(**{**BEFORE_REPEAT_PRIOR, **data["sampling"]})
        return cls(**{**UNSTEERED, **data, "sampling": sampling,
                      "loop": LoopSettings(**data.get("loop", {}))})


@dataclass
class GenerationResult:
    riffs: list[Riff]
    messages: list[str]
    seconds: float
    primer: Primer
    key: dict | None = None  # the key steered toward (constraints.Steering.key_report)


def generate(run: LoadedRun, primer: Primer, request: GenerationRequest) -> GenerationResult:
    """Riffs for every variation: the primer (its last window at most) and what follows."""
    started = time.perf_counter()
    request, messages = request.checked()
    artist = run.artist_id(request.artist)  # checked first: an unknown name costs nothing
    artists = None if run.artists is None else np.full(request.variations, artist, np.int32)
    primer = primer.last_window(run.window_tokens)
    messages += primer.messages
    unknown = sum(run.vocabulary.id(token) == 0 for token in primer.riff.tokens)
    if unknown:
        messages.append(f"{unknown} of {len(primer.riff)} primer tokens are not in the run's "
                        "vocabulary: the model reads them as <unk>")
    steering, steering_messages = prepare(run, primer.riff.tokens, request)
    messages += steering_messages
    rngs = variation_generators(request.seed, request.variations, request.first_variation)
    # one BLAS thread: these products are too small to share, and OpenBLAS threads that
    # spin-wait on a busy 2-core machine made every step several times slower
    with threadpool_limits(limits=1, user_api="blas"):
        ids, deltas, durations = _sample(run, primer, request, rngs, steering, artists)
    riffs = [_riff(run, primer.riff, ids[v], deltas[v], durations[v], request)
             for v in range(request.variations)]
    if request.loop.bars:
        riffs = [_loop(run, primer, request, riff, request.first_variation + v)
                 for v, riff in enumerate(riffs)]
    return GenerationResult(riffs, messages + steering.messages(),
                            time.perf_counter() - started, primer, steering.key_report())


def _sample(run: LoadedRun, primer: Primer, request: GenerationRequest,
            rngs: list[np.random.Generator], steering: Steering, artists: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(variations, steps) arrays of generated ids and rhythm classes; artists: each
    variation's artist id (a conditioned run's; None for one without)."""
    batch, steps = request.variations, request.length_tokens
    ids = np.zeros((batch, steps), np.int32)
    deltas = np.zeros((batch, steps), np.int32)
    durations = np.zeros((batch, steps), np.int32)
    position = np.zeros(batch, np.int64)  # the pending token's place in its bar
    bar = primer.bar_twelfths if len(primer.riff) else request.bar_twelfths
    if len(primer.riff):
        pending = _prime(run, primer, batch, artists)
        histories = [[run.vocabulary.id(t) for t in primer.riff.tokens] for _ in range(batch)]
        position[:] = primer.position_twelfths[-1]
        start = 0
        known = primer.riff.onsets_twelfths(), histories[0]
    else:  # no primer: the first token drawn from the training counts, then the model
        counts = np.asarray(run.vocabulary.counts, np.float64)
        ids[:, 0] = [pick(log_counts(_without_unk(counts)), rng, 1.0) for rng in rngs]
        durations[:, 0] = _rhythm_draws(run.duration_counts, DURATION_ALLOWED, rngs)
        pending = (ids[:, 0], deltas[:, 0], durations[:, 0], run.network.initial_state(batch))
        histories = [[int(i)] for i in ids[:, 0]]
        start = 1
        known = np.zeros(1, np.int64), ids[:, :1]
    prior = RepeatPrior.start(request.sampling.repeat_bias,
                              request.sampling.repeat_bars * bar, *known,
                              batch, steps - start)
    state = pending[3]
    token, delta, duration = pending[:3]
    elapsed = np.zeros(batch, np.int64)
    for step in range(start, steps):
        token, delta, duration, state = _step(run, (token, delta, duration, position), state,
                                              histories, request, rngs, step, steering, artists,
                                              prior)
        prior.advance(token, delta)
        position = (position + delta) % bar
        ids[:, step], deltas[:, step], durations[:, step] = token, delta, duration
        for history, value in zip(histories, token, strict=True):
            history.append(int(value))
        elapsed += delta
        if request.length_bars is not None and elapsed.min() >= request.length_bars * \
                request.bar_twelfths:
            return ids[:, :step + 1], deltas[:, :step + 1], durations[:, :step + 1]
    return ids, deltas, durations


def _without_unk(counts: np.ndarray) -> np.ndarray:
    row = counts.copy()
    if len(row) > 1:
        row[0] = 0.0  # never start on <unk>
    return row


def _prime(run: LoadedRun, primer: Primer, batch: int, artists: np.ndarray | None) -> tuple:
    """Feed all primer tokens but the last in batch 1, then copy the state per variation (they
    share one artist)."""
    riff = primer.riff
    ids = np.array([run.vocabulary.id(t) for t in riff.tokens], np.int32)
    delta = rhythm_classes(riff.delta_twelfths)
    duration = rhythm_classes(riff.duration_twelfths)
    state = run.network.initial_state(1)
    for step in range(len(ids) - 1):
        one = slice(step, step + 1)
        state = feed(run.network, (ids[one], delta[one], duration[one],
                                    primer.position_twelfths[one]), state,
                     None if artists is None else artists[:1])[-1]
    last = slice(len(ids) - 1, len(ids))
    return (np.repeat(ids[last], batch), np.repeat(delta[last], batch),
            np.repeat(duration[last], batch), broadcast_state(state, batch))


def feed(net, pending: tuple, state, artists: np.ndarray | None = None) -> tuple:
    """One step of any architecture: (logits, hidden or None, state). pending: the token ids,
    delta and duration classes and bar positions (twelfths) fed; the seed reads only ids.
    artists: each row's artist id for a conditioned run (None: any)."""
    token, delta, duration, position = pending
    if net.arch != "seed":
        extra = {} if artists is None else {"artist_ids": artists}
        return net.token_step(token, delta, duration, position_classes(position), state,
                              **extra)
    logits, state = net.token_step(token, state)
    return logits, None, state


def _step(run: LoadedRun, pending: tuple, state, histories, request, rngs, step,
          steering: Steering, artists: np.ndarray | None, prior: RepeatPrior):
    """Feed the pending token of every variation; choose the next one and its rhythm. The
    originality guard's masks come before the copy prior, so a forbidden token stays so."""
    logits, hidden, state = feed(run.network, pending, state, artists)
    logits = steering.adjust(logits, histories, step)  # key and originality (constraints.py)
    chosen = pick_tokens(prior.tokens(logits), histories, request.sampling, rngs)
    temperature = request.sampling.temperature
    if run.arch != "seed":
        delta_logits, duration_logits = run.network.rhythm(hidden, chosen)
        next_delta = pick_classes(prior.deltas(delta_logits), DELTA_ALLOWED, temperature, rngs)
        next_duration = pick_classes(duration_logits, DURATION_ALLOWED, temperature, rngs)
    elif request.rhythm == "fixed":
        next_delta = np.full(len(rngs), _fixed_delta(step), np.int32)
        next_duration = np.full(len(rngs), FIXED_DURATION_TWELFTHS, np.int32)
    else:
        next_delta = _rhythm_draws(run.delta_counts, DELTA_ALLOWED, rngs, prior.deltas)
        next_duration = _rhythm_draws(run.duration_counts, DURATION_ALLOWED, rngs)
    return chosen, next_delta, next_duration, state


def _fixed_delta(step: int) -> int:
    """The post's 0.3 quarters on our twelfths grid: onsets at round(3.6 k) twelfths."""
    spacing = FIXED_SPACING_QUARTERS * TWELFTHS_PER_QUARTER
    return int(round(spacing * step) - round(spacing * (step - 1)))


def _rhythm_draws(counts: np.ndarray, allowed: np.ndarray, rngs,
                  favour: Callable[[np.ndarray], np.ndarray] = lambda rows: rows) -> np.ndarray:
    """Classes drawn from training counts; favour: the copy prior's weighting of the rows."""
    return pick_classes(favour(np.tile(log_counts(counts), (len(rngs), 1))), allowed, 1.0,
                        rngs)


def _riff(run: LoadedRun, primer: Riff, ids: np.ndarray, deltas: np.ndarray,
          durations: np.ndarray, request: GenerationRequest) -> Riff:
    """Primer plus generated tokens; a bar-length riff ends on its last whole bar."""
    tokens = primer.tokens + run.vocabulary.decode(ids)
    delta = np.concatenate([primer.delta_twelfths, np.minimum(deltas, MAX_RHYTHM_TWELFTHS)])
    duration = np.concatenate([primer.duration_twelfths,
                               np.minimum(durations, MAX_RHYTHM_TWELFTHS)])
    if len(delta) and not len(primer):
        delta[0] = 0
    riff = Riff(tokens, delta, np.maximum(duration, 1), len(primer))
    if request.length_bars is not None:
        riff = _first_bars(riff, request.length_bars * request.bar_twelfths)
    return riff


def _first_bars(riff: Riff, length_twelfths: int) -> Riff:
    """The generated part cut to its first length_twelfths (whole bars) from where it starts."""
    onsets = riff.onsets_twelfths() - riff.generated_onset_twelfths()
    keep = int(np.searchsorted(onsets, length_twelfths, side="left"))
    keep = max(keep, riff.primer_length + 1)
    return Riff(riff.tokens[:keep], riff.delta_twelfths[:keep], riff.duration_twelfths[:keep],
                riff.primer_length)


def _loop(run: LoadedRun, primer: Primer, request: GenerationRequest, riff: Riff,
          variation: int) -> Riff:
    """Loop mode (loop.py); the turnaround's draws come from a stream of their own."""
    def continue_for(context: Riff, bars: int) -> Riff:
        again = replace(request, length_bars=bars, variations=1, loop=LoopSettings(),
                        first_variation=TURNAROUND_STREAM + variation)
        return generate(run, Primer(primer.kind, context, primer.source), again).riffs[0]

    return loop_riff(riff, request.loop, continue_for, request.bar_twelfths)


def settings_record(run: LoadedRun, primer: Primer, request: GenerationRequest,
                    variation: int, **output: object) -> dict:
    """settings.json: the run, the primer, every sampling setting and the seed."""
    return {"run": str(run.path), "arch": run.arch, "primer": primer.describe(),
            "request": request.to_dict(), "variation": variation, "output": output}


def regenerate(record: dict, run: LoadedRun | None = None) -> Riff:
    """The riff a settings.json describes, made again (byte for byte the same): only its own
    variation is sampled, which gives the same riff as the batch it came from."""
    run = run or load_run(record["run"])
    request = GenerationRequest.from_dict(record["request"])
    request.first_variation += int(record["variation"])
    request.variations = 1
    result = generate(run, Primer.from_description(record["primer"]), request)
    return result.riffs[0]


def record_json(record: dict) -> str:
    return json.dumps(record, indent=1, sort_keys=True)
