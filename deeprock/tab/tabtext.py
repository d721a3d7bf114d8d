"""ASCII guitar tab of a fingering: monospace, bar lines (4/4 unless told), paged when long.

    text = tab_text(fingering, onsets_quarters, tuning, start_bar=16, bars=16)
    blocks = tab_systems(fingering, onsets_quarters, tuning, bars_per_line=2, mark_quarters=8.0)
    text = tab_text(fingering, onsets_quarters, tuning, bar_quarters=3.5)   # 7/8: 14 columns

One column a sixteenth (triplet onsets go to the nearest sixteenth, the next free one when two
meet); the highest string on top, each line named by its open pitch (E4, B3, ..., D2 in drop D).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from deeprock.music.tokens import BEATS_PER_BAR, PITCH_NAMES
from deeprock.tab.tab import Fingering

CELLS_PER_QUARTER = 4
PAGE_BARS = 16


def bar_count(onsets_quarters: Sequence[float], bar_quarters: float = BEATS_PER_BAR) -> int:
    """Bars the phrase spans (for paging)."""
    if len(onsets_quarters) == 0:
        return 0
    return math.floor(max(onsets_quarters) / bar_quarters) + 1


def tab_text(fingering: Fingering, onsets_quarters: Sequence[float], tuning: Sequence[int],
             bars_per_line: int = 4, start_bar: int = 0, bars: int | None = None,
             bar_quarters: float = BEATS_PER_BAR, mark_quarters: float | None = None) -> str:
    """Bars start_bar .. start_bar + bars - 1 (all when bars is None), bars_per_line a system;
    mark_quarters puts a 'v generated' line over that onset (where a primer ends)."""
    return "\n\n".join(tab_systems(fingering, onsets_quarters, tuning, bars_per_line, start_bar,
                                    bars, bar_quarters, mark_quarters))


def tab_systems(fingering: Fingering, onsets_quarters: Sequence[float], tuning: Sequence[int],
                bars_per_line: int = 4, start_bar: int = 0, bars: int | None = None,
                bar_quarters: float = BEATS_PER_BAR, mark_quarters: float | None = None
                ) -> list[str]:
    """tab_text's systems one by one: a page lays them out to the width it has."""
    if len(onsets_quarters) != len(fingering.positions):
        raise ValueError(f"{len(onsets_quarters)} onsets for {len(fingering.positions)} chords")
    last = bar_count(onsets_quarters, bar_quarters)
    end = last if bars is None else min(last, start_bar + bars)
    grid = _bar_grid(fingering, onsets_quarters, bar_quarters, start_bar, end)
    cells = round(bar_quarters * CELLS_PER_QUARTER)
    mark = None
    if mark_quarters is not None:
        bar = math.floor(mark_quarters / bar_quarters)
        mark = (bar, min(round((mark_quarters - bar * bar_quarters) * CELLS_PER_QUARTER),
                         cells - 1))
    return [_system(grid, range(first, min(first + bars_per_line, end)), tuning, cells, mark)
            for first in range(start_bar, end, bars_per_line)]


def _bar_grid(fingering: Fingering, onsets_quarters: Sequence[float], bar_quarters: float,
              start_bar: int, end_bar: int) -> dict[int, dict[int, list[tuple[int, int]]]]:
    """bar → column → the (string, fret) pairs struck there."""
    cells = round(bar_quarters * CELLS_PER_QUARTER)
    grid: dict[int, dict[int, list[tuple[int, int]]]] = {}
    for onset, chord in zip(onsets_quarters, fingering.positions, strict=True):
        bar = math.floor(onset / bar_quarters)
        if not start_bar <= bar < end_bar or not chord:
            continue
        columns = grid.setdefault(bar, {})
        column = min(round((onset - bar * bar_quarters) * CELLS_PER_QUARTER), cells - 1)
        while column in columns and column < cells - 1:
            column += 1
        columns.setdefault(column, []).extend(chord)
    return grid


def _system(grid: dict, bars: range, tuning: Sequence[int], cells: int,
            mark: tuple[int, int] | None = None) -> str:
    strings = len(tuning)
    frets = [fret for bar in bars for chord in grid.get(bar, {}).values() for _, fret in chord]
    width = len(str(max(frets, default=0))) + 1
    labels = [PITCH_NAMES[tuning[strings - number]] for number in range(1, strings + 1)]
    label_width = max(len(label) for label in labels)
    lines = []
    for number, label in zip(range(1, strings + 1), labels, strict=True):
        row = [label.rjust(label_width) + "|"]
        for bar in bars:
            columns = grid.get(bar, {})
            for column in range(cells):
                fret = next((f for s, f in columns.get(column, []) if s == number), None)
                row.append(("-" if fret is None else str(fret)).ljust(width, "-"))
            row.append("|")
        lines.append("".join(row))
    ruler = " " * (label_width + 1) + "".join(str(bar + 1).ljust(cells * width + 1)
                                             for bar in bars)
    head = [ruler.rstrip()]
    if mark is not None and mark[0] in bars:
        at = label_width + 1 + (mark[0] - bars.start) * (cells * width + 1) + mark[1] * width
        head.append(" " * at + "v generated")
    return "\n".join([*head, *lines])
