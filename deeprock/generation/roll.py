"""A riff's piano roll: the primer and the generated part in two colours, chords joined.

    figure = riff_roll(riff, title="variation 1")   # plotly Figure for st.plotly_chart
    figure = riff_roll(riff, meter=(3, 4))          # grid lines every three beats

Each pitch is a bar (x in beats); the notes of one token are joined by a thin vertical line so a
chord reads as one event; hovering a note or a chord line shows its token ('E2 B2 E3').
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from deeprock.app.render import roll_layout
from deeprock.generation.riff import Riff
from deeprock.music.tokens import TWELFTHS_PER_QUARTER, meter_bar_twelfths

PART_COLOURS = {"primer": "#9e9e9e", "generated": "#d84315"}
MAX_BAR_LABELS = 16


def _part_bars(riff: Riff, name: str, indices: range) -> go.Bar:
    onsets = riff.onsets_twelfths() / TWELFTHS_PER_QUARTER
    durations = riff.duration_twelfths / TWELFTHS_PER_QUARTER
    chords = riff.chords()
    starts, lengths, pitches, tokens = [], [], [], []
    for i in indices:
        for pitch in chords[i]:
            starts.append(onsets[i])
            lengths.append(durations[i])
            pitches.append(pitch)
            tokens.append(riff.tokens[i])
    return go.Bar(base=starts, x=np.maximum(lengths, 0.05), y=pitches, orientation="h",
                  width=0.8, name=name, marker={"color": PART_COLOURS[name]},
                  hovertext=tokens, hovertemplate="%{hovertext}<br>beat %{base:.2f}"
                  "<extra>" + name + "</extra>")


def _chord_lines(riff: Riff) -> go.Scatter:
    """One vertical segment per chord from its lowest to its highest pitch (None breaks)."""
    xs, ys, texts = [], [], []
    for onset, chord, token in zip(riff.onsets_twelfths() / TWELFTHS_PER_QUARTER, riff.chords(),
                                   riff.tokens, strict=True):
        if len(chord) > 1:
            xs += [onset, onset, None]
            ys += [chord[0], chord[-1], None]
            texts += [token, token, None]
    return go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#263238", "width": 2},
                      name="chords", hovertext=texts, hoverinfo="text")


def riff_roll(riff: Riff, title: str = "", meter: tuple[int, int] = (4, 4)) -> go.Figure:
    """The whole riff; the primer (if any) grey, what the model generated in orange."""
    figure = go.Figure([
        _part_bars(riff, "primer", range(riff.primer_length)),
        _part_bars(riff, "generated", range(riff.primer_length, len(riff))),
        _chord_lines(riff),
    ])
    pitches = np.array([p for chord in riff.chords() for p in chord], dtype=int)
    roll_layout(figure, pitches, title)
    figure.update_layout(showlegend=True, legend={"orientation": "h", "y": 1.12},
                         xaxis=bar_axis(riff.end_twelfths() / TWELFTHS_PER_QUARTER, meter))
    return figure


def bar_axis(beats: float, meter: tuple[int, int] = (4, 4)) -> dict:
    """A grid line at every bar of the meter, but labels at most MAX_BAR_LABELS (every 1, 2,
    4, ... bars): a 500-bar riff labelled at each bar is a black smear. x counts quarters."""
    bar_quarters = meter_bar_twelfths(*meter) / TWELFTHS_PER_QUARTER
    step = 1
    while beats / (bar_quarters * step) > MAX_BAR_LABELS:
        step *= 2
    return {"dtick": bar_quarters * step, "minor": {"dtick": bar_quarters, "showgrid": True},
            "title": f"beats (grid lines at each {meter[0]}/{meter[1]} bar)"}
