"""Pictures of music for the pages: plotly piano rolls and histograms.

plotly is imported here only, so that scans and the command line never pay for it.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from deeprock.music.midi import Song, Track
from deeprock.music.tokens import PITCH_NAMES, TWELFTHS_PER_QUARTER, token_pitches


def piano_roll(start_beats: np.ndarray, duration_beats: np.ndarray, pitches: np.ndarray,
               title: str = "") -> go.Figure:
    """One horizontal bar per note: x in beats, y in MIDI pitch labelled as music21 spells it."""
    figure = go.Figure(go.Bar(
        base=start_beats, x=np.maximum(duration_beats, 0.05), y=pitches, orientation="h",
        width=0.8, marker={"color": pitch_colours(pitches)},
        hovertext=[PITCH_NAMES[p] for p in pitches], hoverinfo="text+x",
    ))
    return roll_layout(figure, pitches, title)


def pitch_colours(pitches: np.ndarray) -> list[str]:
    """Viridis by pitch as colour strings: numbers with a colorscale made Streamlit's plotly
    warn "Invalid color specifier: number 40" once per note and hover (4,124 on one visit)."""
    from plotly.colors import sample_colorscale

    if not len(pitches):
        return []
    distinct, which = np.unique(np.asarray(pitches, np.int64), return_inverse=True)
    shares = (distinct - distinct[0]) / max(int(distinct[-1] - distinct[0]), 1)
    palette = sample_colorscale("Viridis", shares.tolist())
    return [palette[i] for i in which.ravel()]


def roll_layout(figure: go.Figure, pitches: np.ndarray, title: str = "") -> go.Figure:
    """Beats across, pitches up labelled at each C as music21 spells them: every piano roll."""
    low, high = (int(pitches.min()), int(pitches.max())) if len(pitches) else (40, 64)
    ticks = list(range(low - low % 12, high + 1, 12)) or [low]
    figure.update_layout(
        title=title, height=360, margin={"l": 50, "r": 10, "t": 40, "b": 40},
        xaxis_title="beats", yaxis={"tickvals": ticks, "ticktext": [PITCH_NAMES[t] for t in ticks],
                                    "range": [low - 2, high + 2]},
        bargap=0, showlegend=False)
    return figure


def track_roll(song: Song, track: Track, title: str = "") -> go.Figure:
    notes = track.notes
    return piano_roll(notes["start"] / song.ticks_per_beat,
                      notes["duration"] / song.ticks_per_beat, notes["pitch"].astype(int), title)


def token_roll(tokens: list[str], delta_twelfths: np.ndarray, duration_twelfths: np.ndarray,
               title: str = "") -> go.Figure:
    """A piano roll from a token stream: the catalog's tokens, no MIDI needed."""
    onsets = np.cumsum(delta_twelfths) / TWELFTHS_PER_QUARTER
    durations = np.asarray(duration_twelfths) / TWELFTHS_PER_QUARTER
    starts, lengths, pitches = [], [], []
    for token, onset, duration in zip(tokens, onsets, durations, strict=True):
        for pitch in token_pitches(token):
            starts.append(onset)
            lengths.append(duration)
            pitches.append(pitch)
    return piano_roll(np.array(starts), np.array(lengths), np.array(pitches, dtype=int), title)


def bars(labels: list[str], values: list[int], title: str = "", x_title: str = "",
         horizontal: bool = False) -> go.Figure:
    """A plain bar chart of counts (repairs by kind, token frequencies), largest first as
    given; the count axis ticks whole numbers only (no 0.5 file)."""
    bar = (go.Bar(x=values, y=labels, orientation="h") if horizontal
           else go.Bar(x=labels, y=values))
    counts = {"title": x_title, "tickformat": ",d", **({"dtick": 1} if max(values, default=0) < 10
                                                         else {})}
    figure = go.Figure(bar)
    figure.update_layout(title=title, height=max(220, 26 * len(labels)) if horizontal else 320,
                         margin={"l": 10, "r": 10, "t": 40, "b": 40},
                         **({"xaxis": counts, "yaxis": {"autorange": "reversed"}}
                            if horizontal else {"yaxis": counts}))
    return figure


def histogram(values: np.ndarray, counts: np.ndarray, cut: float | None = None,
              title: str = "", x_title: str = "") -> go.Figure:
    """Bars of counts per value, with an optional vertical cut line (e.g. unique_factor)."""
    figure = go.Figure(go.Bar(x=values, y=counts))
    if cut is not None:
        figure.add_vline(x=cut + 0.5, line_dash="dash", line_color="red",
                         annotation_text="kept →", annotation_position="top right")
    figure.update_layout(title=title, height=320, xaxis_title=x_title, yaxis_title="windows",
                         margin={"l": 50, "r": 10, "t": 40, "b": 40})
    return figure
