"""Dataset health: what is wrong with the collection, and what the training set will contain."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from deeprock import settings
from deeprock.app import render, review_ui, ui
from deeprock.corpus import health, labels, token_store
from deeprock.corpus.artists import artist_table, artists_path
from deeprock.corpus.catalog import Catalog, CatalogError
from deeprock.corpus.dedup import find_duplicates
from deeprock.corpus.selection import (
    Selection,
    SelectionSettings,
    build_selection,
    selected_keys,
    selection_path,
)
from deeprock.corpus.windows import WindowStats
from deeprock.tab import tab_view

st.title("Dataset health")
current = settings.load()
if not os.path.exists(current.catalog):
    st.info(f"No catalog at {current.catalog} yet: choose a dataset and press Scan on the "
            "Home page.")
    st.stop()
try:
    catalog = Catalog(current.catalog)
except CatalogError as error:
    st.error(str(error))
    st.stop()
# label writes may not touch the file's mtime (WAL): their version keys the caches too
STAMP = (current.catalog, os.path.getmtime(current.catalog), labels.version(catalog))


# cache_resource, not cache_data: the results are read-only, and copying a 100k-file catalog's
# paths and selection on every rerun would cost more than a slider move may take
@st.cache_resource(show_spinner="Reading the catalog…", max_entries=4)
def overview(stamp: tuple) -> dict:
    """health.overview, kept beside the catalog per version: full passes, not per rerun."""
    with Catalog(stamp[0]) as cat:
        return health.overview(cat)


@st.cache_data(show_spinner="Counting per artist…", max_entries=4)
def artist_rows(stamp: tuple, rule_stamp: float | bool) -> list[dict]:
    """Keyed by the artist rule file's mtime too: editing the rule shows at once."""
    with Catalog(stamp[0]) as cat:
        return artist_table(cat)


@st.cache_resource(show_spinner="Reading the token streams…", max_entries=4)
def token_streams(stamp: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every stored guitar stream's key, offset and ids (Catalog.token_arrays, kept on disk per
    catalog version), for the window counts of every sequence_length."""
    with Catalog(stamp[0]) as cat:
        return token_store.guitar_arrays(cat)


@st.cache_resource(show_spinner=False, max_entries=4)
def vocabulary_table(stamp: tuple) -> pd.DataFrame:
    with Catalog(stamp[0]) as cat:
        rows = health.vocabulary_rows(cat.vocabulary.tokens, token_store.token_counts(cat))
    return pd.DataFrame(rows, columns=["token", "count", "chord"])


@st.cache_resource(show_spinner="Looking for duplicates…", max_entries=4)
def duplicate_groups(stamp: tuple) -> list:
    with Catalog(stamp[0]) as cat:
        return find_duplicates(cat)


@st.cache_data(show_spinner=False, max_entries=16)
def files_matching(stamp: tuple, pattern: str) -> list[dict]:
    """The file search's 200 rows, once per pattern and catalog stamp: at a million files the
    rows, scattered over 4 GB, cost a slider move up to 0.24 s on every rerun."""
    with Catalog(stamp[0]) as cat:
        return cat.files_matching(pattern, limit=200)


@st.cache_resource(show_spinner=False, max_entries=8)
def selection_for(stamp: tuple, choice: SelectionSettings, groups: list | None) -> Selection:
    with Catalog(stamp[0]) as cat:
        return build_selection(cat, choice, groups or [])


@st.cache_resource(show_spinner=False, max_entries=8)
def keys_for(stamp: tuple, choice: SelectionSettings, groups: list | None) -> np.ndarray:
    """The selection's track keys: the Selection itself (paths) is built only to be saved."""
    with Catalog(stamp[0]) as cat:
        return selected_keys(cat, choice, groups or [])


@st.cache_resource(show_spinner="Counting windows…", max_entries=8)
def window_stats(stamp: tuple, seq_len: int, choice: SelectionSettings,
                 groups: list | None) -> tuple[WindowStats, tuple[np.ndarray, np.ndarray]]:
    """The windows of the selected tracks, and health.song_index of their files; every
    track's distinct counts at this seq_len kept beside the catalog (token_store)."""
    wanted = keys_for(stamp, choice, groups)
    with Catalog(stamp[0]) as cat:
        counted = token_store.window_counts(cat, seq_len)
    stats = WindowStats.from_arrays(*token_streams(stamp), seq_len, wanted, counted)
    return stats, health.song_index(stats.keys[:, 0])


# the user's unique_factor, kept apart from its slider: the slider is a new widget whenever
# sequence_length changes its maximum, and would start again from its default
UNIQUE_FACTOR, UNIQUE_FACTOR_SLIDER = "health_unique_factor", "health_unique_factor_slider"


def unique_factor_slider(seq_len: int, default: int) -> int:
    """The unique_factor slider: the user's value while this sequence_length allows it, else
    the largest allowed, said so (the user's value returns with a longer sequence_length)."""
    wanted, largest = st.session_state.get(UNIQUE_FACTOR, default), seq_len - 1
    chosen = st.slider("unique_factor (keep windows with more distinct tokens)", 0, largest,
                       min(wanted, largest), key=UNIQUE_FACTOR_SLIDER,
                       on_change=lambda: st.session_state.update(
                           {UNIQUE_FACTOR: st.session_state[UNIQUE_FACTOR_SLIDER]}))
    if wanted > largest:
        st.caption(f"unique_factor {wanted} needs windows longer than {seq_len} tokens: "
                   f"{largest} for now, {wanted} again with a longer sequence_length.")
    return chosen


data = overview(STAMP)
summary = data["summary"]
if data["stale"]:
    st.warning(f"This catalog was upgraded from an older version: {data['stale']} files "
               "lack what this version records (duplicates need it). Press Scan on the Home "
               "page to fill it in.")
if summary["files"] == 0:
    st.info("The catalog holds no files yet: scan a folder with MIDI files on the Home page.")
    st.stop()
if summary["guitar_tracks"] == 0 and not summary["missing_program_tracks"]:
    st.warning("No guitar track in this collection, by metadata or by inference: there is "
               "nothing to train on. Scan a folder of rock songs with guitar parts.")

# versions need a MinHash LSH pass (~0.6 ms a file): on a large catalog, only when asked
LARGE_CATALOG = 20_000
if summary["files"] <= LARGE_CATALOG or st.session_state.get("find_duplicates"):
    groups = duplicate_groups(STAMP)
else:
    groups = None
tabs = st.tabs(["Overview", "Duplicates", "Missing metadata", "Windows", "Vocabulary",
                "One file"])

with tabs[0]:
    ui.status_metrics(summary)
    cols = st.columns(4)
    cols[0].metric("Guitar files (metadata)", data["guitars"]["metadata_files"])
    cols[1].metric("Guitar files (inferred)", data["guitars"]["inferred_files"])
    cols[2].metric("Guitar tokens", f"{summary['tokens']:,}")
    chords = sum(1 for token in catalog.vocabulary.tokens if " " in token)
    cols[3].metric("Vocabulary", summary["vocabulary"],
                   help=f"{chords / max(summary['vocabulary'], 1):.0%} of it chords")
    if data["repairs"]:
        repairs = data["repairs"]
        st.plotly_chart(render.bars([kind for kind, _ in repairs], [n for _, n in repairs],
                                    "Repairs made while reading", "files", horizontal=True),
                        width="stretch")
    if data["failures"]:
        st.caption(f"Files that could not be read ({len(data['failures']):,})")
        failed = data["failures"][ui.page_of(len(data["failures"]), "failures_page")]
        st.dataframe(pd.DataFrame(failed)[["root", "path", "error"]], hide_index=True,
                     width="stretch")
    with st.expander("Artists: files, guitar tracks and tokens per artist"):
        rule_file = artists_path(current.catalog)
        st.caption(f"Each file's artist is the folder above it, unless {rule_file} sets a "
                   "level (the Nth folder under the scanned root) or per-folder overrides.")
        # every file's path through the rule: on a large catalog, only when asked
        if summary["files"] <= LARGE_CATALOG or st.checkbox("Count per artist",
                                                             key="count_artists"):
            try:
                st.dataframe(pd.DataFrame(artist_rows(STAMP, rule_file.is_file()
                                                      and os.path.getmtime(rule_file))),
                             hide_index=True, width="stretch")
            except ValueError as error:
                st.error(str(error))

with tabs[1]:
    if groups is None:
        st.button(f"Find duplicates (about {summary['files'] * 0.0006:.0f} s for "
                  f"{summary['files']:,} files)", key="find_duplicates")
        groups = []
    one_per_group = []
    for kind in ("exact", "content", "transposed", "version"):
        of_kind = [g for g in groups if g.kind == kind]
        files = sum(len(g.files) for g in of_kind)
        default = kind in SelectionSettings().one_per_group
        if st.checkbox(f"Train on one file per {kind} group ({len(of_kind)} groups, "
                       f"{files} files)", value=default, key=kind):
            one_per_group.append(kind)
        if of_kind:
            with st.expander(f"{kind}: {len(of_kind)} groups"):
                rows = ui.page_of(len(of_kind), f"{kind}_page")
                shown, first = of_kind[rows], rows.start
                # one row per file, in a table that wraps: a long path is read in full
                st.table(pd.DataFrame(
                    [{"group": first + number + 1, "file": path}
                     for number, group in enumerate(shown) for path in group.files]
                ).set_index("group"))

with tabs[2]:
    accept, threshold = review_ui.missing_metadata_tab(
        catalog, Path(current.catalog).with_suffix(".review"), STAMP)

choice = SelectionSettings(accept_inferred=accept, inferred_threshold=threshold,
                           one_per_group=one_per_group)

with tabs[3]:
    seq_len = st.slider("sequence_length", 10, 200, choice.seq_len, 5)
    unique_factor = unique_factor_slider(seq_len, choice.unique_factor)
    stats, songs_of = window_stats(STAMP, seq_len, choice, groups)
    kept = stats.kept(unique_factor)
    cols = st.columns(3)
    cols[0].metric("Windows kept", f"{kept:,}")
    cols[1].metric("Windows dropped", f"{stats.total - kept:,}")
    cols[2].metric("Training tracks", len(keys_for(STAMP, choice, groups)))
    values, counts = stats.histogram()
    st.plotly_chart(render.histogram(values, counts, cut=unique_factor,
                                     title="Distinct tokens per window",
                                     x_title="distinct tokens"), width="stretch")
    dropped_example, kept_example = (stats.example(unique_factor, kept=False),
                                     stats.example(unique_factor, kept=True))
    paths = catalog.file_paths([w.track[0] for w in (dropped_example, kept_example) if w])
    left, right = st.columns(2)
    for column, window, label in ((left, dropped_example, "Dropped (repetitive)"),
                                  (right, kept_example, "Kept")):
        column.caption(label)
        if window is None:
            column.write("none at this setting")
        else:
            column.write(f"{paths[window.track[0]][1]}, track {window.track[1]}, from token "
                         f"{window.start}: {window.distinct} distinct tokens")
            column.code(" | ".join(catalog.vocabulary.decode(window.ids)), wrap_lines=True)
    st.caption("Per song: windows dropped by this unique_factor, most dropped first")
    songs = ui.page_of(len(songs_of[0]), "songs_page")
    st.dataframe(pd.DataFrame(health.window_breakdown(stats, songs_of, catalog,
                                                      unique_factor, songs)),
                 hide_index=True, width="stretch", height=240)
    if st.button("Save training selection", type="primary"):
        selection = selection_for(STAMP, choice, groups)
        path = selection_path(current.catalog)
        Selection(selection.catalog, SelectionSettings(
            seq_len, unique_factor, choice.accept_inferred, choice.inferred_threshold,
            choice.one_per_group), selection.tracks, selection.excluded_files).save(path)
        st.success(f"Saved {len(selection.tracks)} tracks and the settings to {path}.")

with tabs[4]:
    vocabulary = vocabulary_table(STAMP)
    if vocabulary.empty:
        st.info("No guitar tokens yet.")
    else:
        cols = st.columns(3)
        cols[0].metric("Tokens in use", len(vocabulary))
        cols[1].metric("Used once", int((vocabulary["count"] == 1).sum()))
        cols[2].metric("Chords", f"{vocabulary['chord'].mean():.0%}",
                       help="share of the vocabulary; notes are the rest")
        top = vocabulary.head(40)
        st.plotly_chart(render.bars(top["token"].tolist(), top["count"].tolist(),
                                    "The 40 most frequent tokens", "occurrences"),
                        width="stretch")
        st.caption("Rare-token tail (used at most 5 times)")
        st.dataframe(vocabulary[vocabulary["count"] <= 5], hide_index=True, width="stretch")

with tabs[5]:
    pattern = st.text_input("Find a file (part of its path)")
    matches = files_matching(STAMP, pattern)
    if matches:
        picked = st.selectbox("File", matches, format_func=lambda f: f["path"])
        st.write(f"Status **{picked['status']}**"
                 + (f": {picked['error']}" if picked["error"] else "")
                 + ("; repairs: " + "; ".join(picked["repairs"]) if picked["repairs"] else ""))
        tracks = pd.DataFrame(catalog.tracks(picked["id"]))
        if not tracks.empty:
            st.dataframe(ui.channels_from_one(tracks[[
                "idx", "channel", "program", "name", "notes", "guitar", "guitar_source",
                "guitar_probability", "guitar_reason"]]), hide_index=True, width="stretch")
            song = ui.load_midi(os.path.join(picked["root"], picked["path"]))
            labels = [f"track {t.index}, channel {t.channel + 1}: {t.name or 'no name'}"
                      for t in song.tracks]
            if labels:
                # keyed by the file: a new pick starts from its own first track and guitar
                which = st.selectbox("Piano roll of", range(len(labels)),
                                     format_func=labels.__getitem__, key=f"roll_{picked['id']}")
                st.plotly_chart(render.track_roll(song, song.tracks[which]), width="stretch")
                tab_view.show(song, key=f"tab_{picked['id']}")
    else:
        st.caption("No file matches.")
