"""The Missing metadata tab of the Dataset health page: inferred and suspicious guitar tracks,
and the review loop (listen, piano roll, accept or reject, undo, export and import labels).

Streamlit widgets only; the decisions go through deeprock.corpus.labels. Imported by pages only.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from deeprock.app import render, review, ui
from deeprock.corpus import labels, token_store
from deeprock.corpus.catalog import Catalog
from deeprock.music import guitar, midi

MAX_LABELS_UPLOAD_BYTES = 5 * 1024 * 1024
# the selector, where it goes next, the page of the table and selector
TRACK, NEXT_TRACK, PAGE = "review_track", "review_next_track", "review_page"
COLUMNS = ["kind", "path", "idx", "channel", "name", "notes", "pitch_min", "pitch_max",
           "polyphony", "p_guitar", "label", "guitar_reason"]


def review_rows(catalog: Catalog) -> pd.DataFrame:
    """Tracks without a program (kind "inferred") and metadata guitars whose notes say
    otherwise ("suspicious"), with the notes' probability and the user's label. The rows are
    kept beside the catalog per data version (token_store): the query calls the suspicious
    rule in Python for every pitched track (8 s at a million files); a label changes none of
    them, so the labels are read apart and joined here."""
    rows = pd.DataFrame(token_store.stored_json(catalog, "review", lambda: _query(catalog),
                                                labelled=False))
    if rows.empty:
        return rows
    suspicious = rows["suspicious"].astype(bool)
    rows["kind"] = np.where(suspicious, "suspicious", "inferred")
    rows["p_guitar"] = rows["notes_probability"].where(suspicious, rows["guitar_probability"])
    decided = labels.decisions(catalog)  # usually none, or few beside 25k rows
    keys = zip(rows["md5"], rows["idx"], rows["channel"], strict=True)
    rows["user_label"] = pd.array([decided.get(key) for key in keys] if decided
                                  else [None] * len(rows), "boolean")
    rows["label"] = rows["user_label"].map({True: "accepted", False: "rejected"}).fillna("")
    return rows


def _query(catalog: Catalog) -> dict[str, list]:
    """missing_metadata's rows, suspicious first, then by probability (the review's order),
    as one list per column: JSON half the size of one object per row."""
    rows = catalog.missing_metadata(guitar.is_suspicious)
    for row in rows:
        del row["user_label"]
    rows.sort(key=lambda row: (not row["suspicious"], -(
        row["notes_probability"] if row["suspicious"] else row["guitar_probability"])))
    return {name: [row[name] for row in rows] for name in (rows[0] if rows else {})}


# cache_resource, not cache_data: read-only, and a copy of a million-file catalog's 25k rows
# on every rerun would cost a good part of what a slider move may take
@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_rows(stamp: tuple) -> pd.DataFrame:
    """review_rows per catalog stamp (path, mtime, labels version)."""
    with Catalog(stamp[0]) as catalog:
        return review_rows(catalog)


def missing_metadata_tab(catalog: Catalog, cache_dir: Path, stamp: tuple) -> tuple[bool, float]:
    """The tab's content; returns (accept inferred guitars, threshold) for the selection.
    `stamp` (catalog path, mtime, labels version) keys the cached review rows."""
    rows = _cached_rows(stamp)
    accept = st.checkbox("Accept inferred guitars into the training set", value=True)
    threshold = st.slider("Accept at or above probability", guitar.INFERRED_THRESHOLD, 1.0, 0.9,
                          0.01, disabled=not accept)
    if rows.empty:
        st.success("Every pitched track has a program, and no guitar's notes contradict it.")
        _labels_file(catalog)
        return accept, threshold
    inferred = rows[rows["kind"] == "inferred"]
    trains = np.where(inferred["user_label"].notna(), inferred["user_label"].fillna(False),
                      accept & (inferred["guitar_probability"] >= threshold))
    suspicious = int((rows["kind"] == "suspicious").sum())
    st.write(f"{len(inferred)} pitched tracks in {inferred['file_id'].nunique()} files have no "
             f"program; {int(trains.sum())} would train as guitar. {suspicious} tracks have a "
             f"guitar program but notes that say otherwise (p < {guitar.SUSPICIOUS_BELOW}): "
             "flagged suspicious, they still train unless you reject them.")
    if NEXT_TRACK in st.session_state:  # set by a decision: before the pager and selector exist
        st.session_state[TRACK] = st.session_state.pop(NEXT_TRACK)
        st.session_state[PAGE] = st.session_state[TRACK] // ui.PAGE_ROWS + 1
    shown = rows.iloc[ui.page_of(len(rows), PAGE)]
    st.dataframe(ui.channels_from_one(shown[COLUMNS]), hide_index=True, width="stretch")
    _review(catalog, rows, shown, cache_dir)
    _labels_file(catalog)
    return accept, threshold


def _describe(row: dict) -> str:
    label = f" [{row['label']}]" if row["label"] else ""
    return (f"{row['kind']} p={row['p_guitar']:.2f}: {row['path']}, track {row['idx']} "
            f"channel {row['channel'] + 1} {row['name'] or ''}{label}")


def _next_undecided(rows: pd.DataFrame, decided: int) -> int:
    """The first track after `decided` (wrapping round) without a label: where the review
    goes on after Accept or Reject, on whichever page; `decided` itself when every other
    track has one. Array ops: 25k rows at a million files."""
    undecided = rows.index[(rows["label"] == "").to_numpy() & (rows.index != decided)]
    after = undecided[undecided > decided]
    return int(after[0]) if len(after) else int(undecided[0]) if len(undecided) else decided


def _review(catalog: Catalog, rows: pd.DataFrame, shown: pd.DataFrame, cache_dir: Path) -> None:
    """The selector offers the rows of the table's page (`shown`), titled per rerun: 200 are
    cheap, 25k options were a quarter of a slider move."""
    st.subheader("Review a track")
    if st.session_state.get(TRACK) not in shown.index:  # the user turned the page
        st.session_state.pop(TRACK, None)
    titles = {index: _describe(row) for index, row in zip(
        shown.index, shown.to_dict("records"), strict=True)}
    picked = st.selectbox("Track", shown.index, format_func=titles.__getitem__, key=TRACK)
    row = rows.loc[picked]
    song = ui.load_midi(os.path.join(row["root"], row["path"]))
    track = next((t for t in song.tracks if (t.index, t.channel) == (row["idx"],
                                                                     row["channel"])), None)
    if song.md5 != row["md5"] or track is None:
        st.warning(f"{row['path']} changed since the scan: press Scan on the Home page.")
        return
    st.plotly_chart(render.track_roll(song, track, title=row["path"]), width="stretch")
    if st.button(f"Listen to {review.EXCERPT_BARS} bars", key="review_listen"):
        _listen(song, track, cache_dir)
    key = (row["md5"], int(row["idx"]), int(row["channel"]))
    cols = st.columns(4)
    actions = ((cols[0], "Accept as guitar", True), (cols[1], "Reject", False),
               (cols[2], "Back to inference", None))
    for column, text, verdict in actions:
        if column.button(text, key=f"review_{text}"):
            labels.set_label(catalog, *key, verdict)
            if verdict is not None:
                st.session_state[NEXT_TRACK] = int(_next_undecided(rows, picked))
            st.rerun()
    if cols[3].button(f"Undo ({labels.history_size(catalog)})", key="review_undo",
                      disabled=labels.history_size(catalog) == 0,
                      help="Takes back the last decision; the selector stays where it is"):
        labels.undo(catalog)
        st.rerun()


def _listen(song: midi.Song, track: midi.Track, cache_dir: Path) -> None:
    from deeprock.music.audio import AudioError, AudioUnavailable

    try:
        st.audio(review.excerpt_wav(song, track, cache_dir), format="audio/wav")
    except (AudioUnavailable, AudioError) as error:
        st.warning(str(error))


def _exported(catalog_path: str) -> str:
    """The export, made when the button is clicked, not on every rerun: it looks up a file
    of each label's content, a pass over a million files' rows each."""
    with Catalog(catalog_path) as catalog:
        return labels.export_json(catalog)


def _labels_file(catalog: Catalog) -> None:
    """Export the labels in force; import a file exported from this or another catalog."""
    if "labels_message" in st.session_state:
        st.success(st.session_state.pop("labels_message"))
    decided = labels.decisions(catalog)
    st.caption(f"{len(decided)} tracks labelled by you ({sum(decided.values())} accepted).")
    left, right = st.columns(2)
    left.download_button("Export labels (JSON)", functools.partial(_exported, catalog.path),
                         file_name="deeprock-labels.json", mime="application/json",
                         on_click="ignore")
    upload = right.file_uploader("Import labels (JSON)", type=["json"], key="labels_upload")
    if upload is None:
        return
    name = re.sub(r"[^\w.-]", "_", os.path.basename(upload.name))[:80]
    if upload.size > MAX_LABELS_UPLOAD_BYTES:
        right.error(f"{name} is {upload.size} bytes, over the "
                    f"{MAX_LABELS_UPLOAD_BYTES} byte limit for a labels file.")
        return
    if right.button(f"Apply labels from {name}", key="labels_apply"):
        try:
            changed = labels.import_json(catalog, upload.getvalue().decode("utf-8", "replace"),
                                         name)
        except labels.LabelError as error:
            right.error(str(error))
            return
        st.session_state["labels_message"] = f"{changed} labels applied from {name}."
        st.rerun()
