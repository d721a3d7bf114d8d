"""Generate page: pick a run and a primer, sample riffs, hear them, read the tab, download, save.

Thin: widgets here, the work in deeprock/generation/. TensorFlow is imported only when a run is
chosen (load_run, cached per run file with st.cache_resource). Downloads never rerun the page
(on_click="ignore"); GP5 and MusicXML are built only when their button is clicked.
"""

from __future__ import annotations

import datetime
import math
import random
import time
from pathlib import Path

import streamlit as st

from deeprock import settings
from deeprock.generation import gallery, primers
from deeprock.generation.generate import (
    MAX_TOKENS,
    GenerationRequest,
    RunError,
    generate,
    load_run,
    settings_record,
)
from deeprock.generation.midi_out import GUITAR_PROGRAMS, PRIMER_MODES
from deeprock.generation.outputs import FILE_NAMES, FORMATS, MIME_TYPES, OutputOptions, RiffRender
from deeprock.generation.sampling import SamplingSettings
from deeprock.tab.tab import TUNINGS
from deeprock.training import runs as run_folders
from deeprock.training.jobs import models_root

RIFFS = "generated_riffs"
PRIMER_CHOICES = {"Dataset window": "window", "Song from the catalog": "song",
                  "Upload MIDI": "upload", "None": "none"}


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def cached_run(path: str, modified: float):
    return load_run(path)


@st.cache_resource(show_spinner="Indexing the training songs…", max_entries=4)
def cached_reference(path: str, modified: float):
    from deeprock.generation.reference import dataset_reference

    try:
        return dataset_reference(cached_run(path, modified)), None
    except Exception as error:  # no catalog, a damaged one: riffs come without the comparison
        return None, str(error)


def _run_label(summary) -> str:
    started = (datetime.datetime.fromtimestamp(summary.started).strftime("%Y-%m-%d %H:%M")
               if summary.started else "?")
    loss = "-" if math.isnan(summary.best_val_loss) else f"{summary.best_val_loss:.3f}"
    return f"{summary.name} · {summary.arch} · val loss {loss} · {summary.state} · {started}"


def choose_run():
    listed = [r for r in run_folders.list_runs(models_root()) if r.has_model]
    if not listed:
        st.info("No trained run yet: train one on the Train page (in the sidebar; a few "
                "minutes on the demo corpus), then come back.")
        st.stop()
    summary = st.selectbox("Run", listed, format_func=_run_label,
                           help="Finished runs and the best checkpoint so far of running ones")
    best = summary.path / run_folders.BEST
    try:
        return cached_run(str(summary.path), best.stat().st_mtime), best.stat().st_mtime
    except RunError as error:
        st.error(str(error))
        st.stop()


def choose_primer(run):
    """The primer the widgets describe, or None with the reason shown."""
    kind = PRIMER_CHOICES[st.radio("Primer", list(PRIMER_CHOICES), horizontal=True)]
    catalog = run.config.catalog if Path(run.config.catalog).is_file() else settings.load().catalog
    if kind == "song":
        return _song_primer(catalog, run)
    if kind == "upload":
        return _upload_primer(run)
    if kind == "none":
        return lambda seed: primers.Primer.none()
    return lambda seed: primers.window_primer(catalog, run.split, _rng(seed),
                                              run.window_tokens)


def _rng(seed: int):
    import numpy as np

    return np.random.default_rng(seed)


def _song_primer(catalog: str, run):
    search = st.text_input("Search songs", placeholder="part of a path, e.g. an artist")
    try:
        with primers.open_run_catalog(catalog) as opened:
            matches = [f["path"] for f in opened.files_matching(search, limit=200)]
    except primers.PrimerError as error:
        st.error(str(error))
        return None
    if not matches:
        st.warning(f"No song in {catalog} matches {search!r}.")
        return None
    song = st.selectbox("Song", matches)
    return lambda seed: primers.song_primer(catalog, song, run.window_tokens)


def _upload_primer(run):
    upload = st.file_uploader("MIDI file", type=["mid", "midi"],
                              help=f"At most {primers.UPLOAD_MAX_BYTES // 1024} KB")
    if upload is None:
        return None
    data = upload.getvalue()
    try:
        _, pitched = primers.upload_tracks(data, upload.name)
    except primers.PrimerError as error:
        st.error(str(error))
        return None
    labels = [f"{i}: {t.name or 'unnamed'} (channel {t.channel + 1}, {len(t.notes)} notes)"
              for i, t in enumerate(pitched)]
    choice = st.selectbox("Track", ["first guitar track", *labels])
    track = None if choice == "first guitar track" else labels.index(choice)
    return lambda seed: primers.upload_primer(data, upload.name, run.window_tokens, track)


def roll_dice() -> None:
    st.session_state["seed"] = random.randrange(1_000_000)


def controls(run) -> tuple[GenerationRequest, OutputOptions]:
    left, middle, right = st.columns(3)
    unit = left.radio("Length in", ["tokens", "bars"], horizontal=True)
    length = left.number_input(f"Length ({unit})", 1, MAX_TOKENS * 10,
                               200 if unit == "tokens" else 8)
    variations = left.slider("Variations", 1, 8, 1)
    seed_column, dice_column = left.columns([3, 1])
    seed = seed_column.number_input("Seed", 0, 2**31 - 1, key="seed")
    dice_column.button("🎲", on_click=roll_dice, help="A random seed")
    temperature = middle.slider("Temperature (0 = greedy)", 0.0, 2.0, 0.9, 0.05)
    top_k = middle.number_input("Top-k (0 = off)", 0, 10_000, 0)
    top_p = middle.slider("Top-p", 0.05, 1.0, 0.95, 0.05)
    penalty = middle.slider("Repetition penalty", 1.0, 2.0, 1.15, 0.05)
    max_repeat = middle.number_input("Most repeats of one token in a row (0 = no cap)", 0,
                                     64, 8)
    rhythm = "model"
    if run.arch == "seed":
        rhythm = right.radio("Rhythm (seed run)", ["statistics", "fixed"], horizontal=True,
                             help="Drawn from the training rhythm, or the post's 0.3 quarters")
    tempo = right.slider("Tempo (bpm)", 60, 220, 120)
    program = right.selectbox("Guitar sound", list(GUITAR_PROGRAMS),
                              format_func=lambda p: f"{GUITAR_PROGRAMS[p]} ({p})")
    primer_mode = right.selectbox("Primer in the MIDI", PRIMER_MODES)
    backing = right.checkbox("Backing (drums and bass)")
    tuning = right.selectbox("Tuning for the tab", list(TUNINGS)[:2])
    capo = right.number_input("Capo", 0, 12, 0)
    sampling = SamplingSettings(temperature, int(top_k), top_p, penalty,
                                max_repeat=int(max_repeat))
    request = GenerationRequest(int(length) if unit == "tokens" else MAX_TOKENS,
                                int(length) if unit == "bars" else None, sampling, int(seed),
                                variations, rhythm)
    return request, OutputOptions(program, float(tempo), primer_mode, backing, tuning, capo)


def make_riffs(run, modified, make_primer, request, options) -> None:
    from deeprock.generation.reference import comparison_rows
    from deeprock.generation.roll import riff_roll
    from deeprock.generation.stats import riff_stats

    started = time.perf_counter()
    primer = make_primer(request.seed)
    result = generate(run, primer, request)
    reference, problem = cached_reference(str(run.path), modified)
    messages = result.messages + ([f"No comparison with the training songs: {problem}"]
                                  if problem else [])
    views = []
    for number, riff in enumerate(result.riffs):
        render = RiffRender(riff, options)  # kept: downloads and the save reuse its files
        copied = reference.longest_copy(riff) if reference is not None else None
        views.append({"render": render, "files": render.files(("mid", "wav", "txt")),
                      "figure": riff_roll(riff, f"variation {number + 1}"),
                      "stats": comparison_rows(riff_stats(riff), reference, copied),
                      "record": settings_record(run, result.primer, request, number,
                                                **options.to_dict())})
    st.session_state[RIFFS] = {"views": views, "messages": messages,
                               "seconds": time.perf_counter() - started}


def _lazy(render: RiffRender, kind: str):
    """Built on the download's click, once: the save and later clicks reuse it."""
    return lambda: getattr(render, kind)


def show_riff(view: dict, number: int) -> None:
    files, render = view["files"], view["render"]
    riff = render.riff
    st.subheader(f"Variation {number + 1}: {len(riff) - riff.primer_length} tokens")
    if "wav" in files.data:
        st.audio(files.data["wav"], format="audio/wav")
    else:
        st.warning(f"No audio: {files.problems.get('wav')}")
    st.plotly_chart(view["figure"], key=f"roll-{number}")
    st.code(files.data["txt"].decode("utf-8"), language=None)
    st.dataframe(view["stats"], hide_index=True)
    columns = st.columns(6)
    for column, kind, label in zip(columns, ("mid", "wav", "txt", "gp5", "musicxml"),
                                   ("MIDI", "WAV", "Tab", "Guitar Pro 5", "MusicXML"),
                                   strict=False):
        data = files.data.get(kind) or (_lazy(render, kind)
                                        if kind in ("gp5", "musicxml") else None)
        if data is not None:
            column.download_button(label, data, file_name=f"riff-{number + 1}-"
                                   f"{FILE_NAMES[kind]}", mime=MIME_TYPES[kind],
                                   on_click="ignore", key=f"download-{kind}-{number}")
    with columns[5].popover("Save"):
        name = st.text_input("Name", f"riff-{view['record']['request']['seed']}-{number + 1}",
                             key=f"name-{number}")
        if st.button("Save to the gallery", key=f"save-{number}"):
            _save(view, name)


def _save(view: dict, name: str) -> None:
    render = view["render"]
    try:
        folder = gallery.save_riff(gallery.riffs_root(), name, render.riff,
                                   render.files(FORMATS), view["record"])
    except gallery.GalleryError as error:
        st.error(str(error))
        return
    st.success(f"Saved as {folder}")


def show_gallery() -> None:
    root = gallery.riffs_root()
    entries = gallery.list_riffs(root)
    st.header("Gallery")
    if not entries:
        st.caption(f"No saved riffs yet in {root}.")
        return
    names = [e.name for e in entries]
    chosen = st.multiselect("Compare side by side", names, default=names[:1], max_selections=3)
    for column, entry in zip(st.columns(max(len(chosen), 1)),
                             [e for e in entries if e.name in chosen], strict=False):
        with column:
            _show_entry(root, entry)


def _show_entry(root, entry) -> None:
    from deeprock.generation.roll import riff_roll

    request = entry.record.get("request", {})
    st.markdown(f"**{entry.name}** · seed {request.get('seed')} · "
                f"variation {entry.record.get('variation', 0) + 1} · {entry.record.get('run')}")
    wav = entry.file("wav")
    if wav:
        st.audio(wav, format="audio/wav")
    st.plotly_chart(riff_roll(entry.riff, entry.name), key=f"gallery-roll-{entry.name}")
    new_name = st.text_input("New name", entry.name, key=f"rename-{entry.name}")
    left, right = st.columns(2)
    try:
        if left.button("Rename", key=f"rename-button-{entry.name}") and new_name != entry.name:
            gallery.rename_riff(root, entry.name, new_name)
            st.rerun()
        if right.button("Delete", key=f"delete-{entry.name}"):
            gallery.delete_riff(root, entry.name)
            st.rerun()
    except gallery.GalleryError as error:
        st.error(str(error))


st.title("Generate")
run, modified = choose_run()
make_primer = choose_primer(run)
request, options = controls(run)
if st.button("Generate", type="primary", disabled=make_primer is None):
    with st.spinner("Generating…"):
        try:
            make_riffs(run, modified, make_primer, request, options)
        except (primers.PrimerError, RunError, ValueError) as error:
            st.error(str(error))
generated = st.session_state.get(RIFFS)
if generated:
    for message in generated["messages"]:
        st.info(message)
    st.caption(f"{len(generated['views'])} riff(s) in {generated['seconds']:.2f} s")
    for number, view in enumerate(generated["views"]):
        show_riff(view, number)
show_gallery()
