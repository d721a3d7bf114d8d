"""Loop mode: a figure of N bars from the model, played K times, the last time with a
turnaround the model samples again for the final bar. Bars of the riff's meter (4/4 unless
told: 36 twelfths in 3/4).

    settings = LoopSettings(bars=2, repeats=4, turnaround=True)
    riff = loop_riff(generated, settings, continue_for)   # continue_for: (context, bars) -> Riff
    riff = loop_riff(generated, settings, continue_for, bar_twelfths=36)   # 3/4 bars

The figure starts on its first generated onset, which becomes the downbeat, and is cut at the
bar line: no note sounds past it, and its last token holds to it, so the riff's end is the
loop's end (players that loop at the last event, and DAWs that trim a clip to its last note,
would otherwise make the loop short). The primer, when there is one, ends at the bar line
after its last onset, where the loop starts. Free mode (bars = 0) is the model alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deeprock.generation.riff import Riff
from deeprock.music.tokens import TWELFTHS_PER_BAR

MAX_LOOP_BARS = 32
MAX_REPEATS = 16


@dataclass(frozen=True)
class LoopSettings:
    bars: int = 0  # 0: free, the model alone
    repeats: int = 1  # K: the figure is played this many times
    turnaround: bool = True  # the last repeat's final bar sampled again (with repeats > 1)

    def checked(self) -> LoopSettings:
        """The same settings, or a ValueError that says which one is out of range."""
        if not 0 <= self.bars <= MAX_LOOP_BARS:
            raise ValueError(f"the loop length must be 0 (free) to {MAX_LOOP_BARS} bars, "
                             f"not {self.bars}")
        if not 1 <= self.repeats <= MAX_REPEATS:
            raise ValueError(f"repeats must be 1 to {MAX_REPEATS}, not {self.repeats}")
        if self.repeats > 1 and not self.bars:
            raise ValueError("repeats need a loop length in bars: a free riff does not end on "
                             "a bar line, so it cannot repeat without a gap")
        return self

    def loop_twelfths(self, bar_twelfths: int) -> int:
        return self.bars * bar_twelfths

    @property
    def turns(self) -> bool:
        return self.turnaround and self.repeats > 1


# (context, bars) -> the context continued by the model for at least that many bars
Continuation = Callable[[Riff, int], Riff]


def loop_riff(riff: Riff, settings: LoopSettings, continue_for: Continuation,
              bar_twelfths: int = TWELFTHS_PER_BAR) -> Riff:
    """The primer, then the figure `repeats` times; the turnaround comes from continue_for."""
    primer = riff.primer()
    start = loop_start(primer, bar_twelfths)
    primer = fitted(primer.tokens, primer.onsets_twelfths(), primer.duration_twelfths, start,
                    hold=False)
    length = settings.loop_twelfths(bar_twelfths)
    generated = riff.generated()
    if not len(generated):
        raise ValueError("a loop needs generated tokens to make its figure from")
    onsets = generated.onsets_twelfths()
    figure = fitted(generated.tokens, onsets - onsets[0], generated.duration_twelfths, length)
    repeats = [figure] * settings.repeats
    last_start = start + (settings.repeats - 1) * length
    if settings.turns:
        context = joined([(0, primer), *[(start + k * length, figure)
                                         for k in range(settings.repeats - 1)],
                          (last_start, head(figure, length - bar_twelfths))])
        last_onset = int(context.onsets_twelfths()[-1]) - last_start
        bars = -(-(length - last_onset) // bar_twelfths)
        repeats[-1] = with_turnaround(figure, continue_for(context, bars), last_onset, length,
                                      bar_twelfths)
    whole = joined([(0, primer), *[(start + k * length, part) for k, part in enumerate(repeats)]])
    return Riff(whole.tokens, whole.delta_twelfths, whole.duration_twelfths, len(primer))


def loop_start(primer: Riff, bar_twelfths: int = TWELFTHS_PER_BAR) -> int:
    """The bar line after the primer's last onset (counting bars from its first token)."""
    if not len(primer):
        return 0
    last = int(primer.onsets_twelfths()[-1])
    return (last // bar_twelfths + 1) * bar_twelfths


def fitted(tokens: list[str], onsets: np.ndarray, durations: np.ndarray, end: int,
           hold: bool = True) -> Riff:
    """The tokens with onsets before `end`, cut at it, the last one held to it (`hold`)."""
    onsets = np.asarray(onsets, np.int64)
    keep = onsets < end
    kept_onsets = onsets[keep]
    cut = np.minimum(np.asarray(durations, np.int64)[keep], end - kept_onsets)
    if hold and len(cut):
        cut[-1] = end - kept_onsets[-1]
    return _riff_at([t for t, kept in zip(tokens, keep, strict=True) if kept], kept_onsets, cut)


def head(figure: Riff, final_bar: int) -> Riff:
    """The figure's bars before its last (which starts at final_bar): what the turnaround
    follows in the last repeat."""
    onsets = figure.onsets_twelfths()
    keep = onsets < final_bar
    return _riff_at([t for t, kept in zip(figure.tokens, keep, strict=True) if kept],
                    onsets[keep], figure.duration_twelfths[keep])


def with_turnaround(figure: Riff, continuation: Riff, last_onset: int, length: int,
                    bar_twelfths: int) -> Riff:
    """The figure's head, then the continuation's tokens that fall in the final bar (the loop
    `length` twelfths long, its bars bar_twelfths).

    The continuation is its (possibly shortened) context plus new tokens; its onsets are
    placed by the context's last token, which sits at last_onset in the last repeat.
    """
    onsets = continuation.onsets_twelfths()
    anchor = int(onsets[continuation.primer_length - 1])
    new_onsets = onsets[continuation.primer_length:] - anchor + last_onset
    final_bar = length - bar_twelfths
    keep = new_onsets >= final_bar
    part = head(figure, final_bar)
    tokens = part.tokens + [t for t, kept in zip(continuation.tokens[continuation.primer_length:],
                                                 keep, strict=True) if kept]
    all_onsets = np.concatenate([part.onsets_twelfths(), new_onsets[keep]])
    durations = np.concatenate([part.duration_twelfths,
                                continuation.duration_twelfths[continuation.primer_length:][keep]])
    return fitted(tokens, all_onsets, durations, length)


def joined(parts: list[tuple[int, Riff]]) -> Riff:
    """Riffs laid one after another, each at its offset (its own onsets count from there)."""
    tokens = [token for _, part in parts for token in part.tokens]
    onsets = np.concatenate([np.zeros(0, np.int64),
                             *[part.onsets_twelfths() + offset for offset, part in parts]])
    durations = np.concatenate([np.zeros(0, np.int64),
                                *[part.duration_twelfths for _, part in parts]])
    return _riff_at(tokens, onsets, durations)


def _riff_at(tokens: list[str], onsets: np.ndarray, durations: np.ndarray) -> Riff:
    """A riff whose tokens sound at these onsets (its first delta counts from 0)."""
    onsets = np.asarray(onsets, np.int64)
    return Riff(tokens, np.diff(onsets, prepend=0), np.asarray(durations, np.int64))
