"""Streamlit pieces that more than one page shows; imported by pages only."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from deeprock.music import midi


def status_metrics(summary: dict) -> None:
    """Files, and how they were read: the first row of the Home and Dataset health pages."""
    columns = st.columns(4)
    columns[0].metric("Files", summary["files"])
    columns[1].metric("Read cleanly", summary["ok"])
    columns[2].metric("Recovered", summary["recovered"])
    columns[3].metric("Failed", summary["failed"])


PAGE_ROWS = 200  # rows a table sends at a time: a million-file catalog's never all at once


def page_of(rows: int, key: str) -> slice:
    """The rows of the page the user picks, as a slice; a picker only when there are pages."""
    pages = max(1, -(-rows // PAGE_ROWS))
    page = st.number_input(f"Page (of {pages:,})", 1, pages, 1, key=key) if pages > 1 else 1
    return slice((page - 1) * PAGE_ROWS, page * PAGE_ROWS)


def channels_from_one(table: pd.DataFrame) -> pd.DataFrame:
    """A copy with its 0-based "channel" column numbered 1-16, as DAWs and General MIDI number
    channels: every channel a user reads says the same."""
    return table.assign(channel=table["channel"] + 1)


def load_midi(path: str) -> midi.Song:
    """midi.load once per file stamp (path, size, mtime): every widget on a page reruns the whole
    page, and a file picked for review or for its tab is not parsed again until it changes.
    The Song is shared between reruns and sessions: read it, never change it."""
    try:
        stat = os.stat(path)
    except OSError:
        return midi.load(path)  # the loader puts the reason in Song.error
    return _load_stamped(path, stat.st_size, stat.st_mtime_ns)


@st.cache_resource(show_spinner=False, max_entries=8)
def _load_stamped(path: str, size: int, mtime_ns: int) -> midi.Song:
    return midi.load(path)


def remembered(widget, key: str, default, *args, **kwargs):
    """A widget whose value outlives a visit to another page: Streamlit forgets a widget's key
    once a run does not draw it, so its value is kept under a second key of our own and given
    back when the page is drawn again. `widget` is e.g. `st.slider` or a column's `.slider`."""
    kept = f"kept-{key}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(kept, default)
    value = widget(*args, key=key, **kwargs)
    st.session_state[kept] = value
    return value


def remember(key: str, value) -> None:
    """Set a remembered widget's value before it is drawn (an upload's tempo, the dice)."""
    st.session_state[key] = st.session_state[f"kept-{key}"] = value
