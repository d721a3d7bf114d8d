"""The tab of a song's guitar track on a page: tuning, capo, pages of 16 bars, downloads.

    tab_view.show(song)   # inside the Dataset health page's One file tab

Widgets only; the tab itself comes from track_tab.py, the same code as `deeprock tab`.
"""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from deeprock.music import guitar, midi
from deeprock.tab.gp5 import gp5_bytes
from deeprock.tab.tab import MAX_CAPO, TUNINGS, parse_tuning
from deeprock.tab.tabtext import PAGE_BARS, bar_count, tab_text
from deeprock.tab.track_tab import TrackTab, track_tab

CUSTOM = "custom…"


def show(song: midi.Song, key: str = "tab") -> None:
    """Pick a pitched track (the first guitar track by default) and show its tab."""
    pitched = _pitched(song)
    if not pitched:
        st.caption("No pitched track to show as tab.")
        return
    guitars = _guitar_positions(song.path, song.md5, song)
    st.subheader("Tab")
    left, middle, right = st.columns([2, 2, 1])
    which = left.selectbox("Tab of", range(len(pitched)), index=guitars[0] if guitars else 0,
                           format_func=lambda i: _label(pitched[i], i in guitars),
                           key=f"{key}_track")
    tuning = _tuning(middle, key)
    capo = right.number_input("Capo", 0, MAX_CAPO, 0, key=f"{key}_capo")
    if tuning is None:
        return
    try:
        result = _tab(song.path, song.md5, which, tuning, int(capo), song)
    except ValueError as error:
        st.warning(str(error))
        return
    bars = bar_count(result.onsets_quarters)
    start_bar = 0
    if bars > PAGE_BARS:
        pages = range(0, bars, PAGE_BARS)
        start_bar = st.selectbox("Bars", pages, key=f"{key}_page",
                                 format_func=lambda b: f"{b + 1}-{min(b + PAGE_BARS, bars)}")
    fingering = result.fingering
    cols = st.columns(3)
    cols[0].metric("Difficulty", f"{fingering.difficulty:.2f}",
                   help="per onset: fret stretch + hand movement + half the string jumps")
    cols[1].metric("Notes", sum(len(chord) for chord in fingering.positions))
    cols[2].metric("Moved by octaves", fingering.out_of_range)
    st.code(tab_text(fingering, result.onsets_quarters, tuning, start_bar=start_bar,
                     bars=PAGE_BARS), language=None)
    _downloads(song, result, key)


def _pitched(song: midi.Song) -> list[midi.Track]:
    return [t for t in song.tracks if not t.is_drum and len(t.notes)]


# Every widget reruns the page: the guitar decisions and the fretting (tens of milliseconds a
# track) are kept per file content (path, md5), the song itself passed along unhashed
@st.cache_resource(show_spinner=False, max_entries=16)
def _guitar_positions(path: str, md5: str | None, _song: midi.Song) -> list[int]:
    return [i for i, t in enumerate(_pitched(_song)) if guitar.decide(_song, t).guitar]


@st.cache_resource(show_spinner=False, max_entries=32)
def _tab(path: str, md5: str | None, position: int, tuning: tuple[int, ...], capo: int,
         _song: midi.Song) -> TrackTab:
    return track_tab(_song, _pitched(_song)[position], tuning, capo)


def _label(track: midi.Track, is_guitar: bool) -> str:
    return (f"track {track.index}, channel {track.channel + 1}: {track.name or 'no name'}"
            + (" (guitar)" if is_guitar else ""))


def _tuning(column, key: str) -> tuple[int, ...] | None:
    name = column.selectbox("Tuning", [*TUNINGS, CUSTOM], key=f"{key}_tuning")
    if name != CUSTOM:
        return TUNINGS[name]
    text = column.text_input("Open strings, lowest first", "E2,A2,D3,G3,B3,E4",
                             key=f"{key}_custom")
    try:
        return parse_tuning(text)
    except ValueError as error:
        st.warning(str(error))
        return None


def _downloads(song: midi.Song, result, key: str) -> None:
    """Both files are made only when clicked (Streamlit calls the function then), so a long
    track's page does not wait for its whole tab and Guitar Pro file."""
    stem = re.sub(r"[^\w-]+", "_", Path(song.path).stem)[:80] or "track"

    def text() -> str:
        return tab_text(result.fingering, result.onsets_quarters, result.tuning) + "\n"

    def gp5() -> bytes:
        return gp5_bytes(result.onsets_quarters, result.durations_quarters, result.fingering,
                         result.tuning, song.tempo, stem, result.capo)

    left, right = st.columns(2)
    left.download_button("Guitar Pro 5", gp5, f"{stem}.gp5", "application/octet-stream",
                         on_click="ignore", key=f"{key}_gp5")
    right.download_button("Tab text", text, f"{stem}.txt", "text/plain",
                          on_click="ignore", key=f"{key}_txt")
