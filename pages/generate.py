"""Generate page: pick a run and a primer, sample riffs, hear them, read the tab, download, save.

Thin: widgets here and in generation/riff_view.py, the work in deeprock/generation/. The run's
weights are read once per checkpoint file (load_run, st.cache_resource). Every form value is
remembered across pages (app/ui.remembered). Downloads never rerun the page (on_click="ignore");
Ogg, GP5 and MusicXML are built only when their button is clicked.
"""

from __future__ import annotations

import datetime
import math
import random
import time
from pathlib import Path

import streamlit as st

from deeprock import settings
from deeprock.app.ui import remember, remembered
from deeprock.generation import gallery, primers, riff_view
from deeprock.generation.constraints import AUTO, SCALE_CHOICES
from deeprock.generation.generate import (
    MAX_BARS,
    MAX_TOKENS,
    GenerationRequest,
    RunError,
    generate,
    load_run,
    regenerate,
    settings_record,
)
from deeprock.generation.loop import MAX_LOOP_BARS, MAX_REPEATS, LoopSettings
from deeprock.generation.midi_out import GUITAR_PROGRAMS, PRIMER_MODES
from deeprock.generation.originality import DEFAULT_MAX_COPY
from deeprock.generation.outputs import (
    COMMON_METERS,
    FORMATS,
    OutputOptions,
    RiffRender,
    check_meter,
    meter_text,
    parse_meter,
)
from deeprock.generation.practice import TEMPO_PERCENTS, Practice
from deeprock.generation.sampling import (
    DEFAULT_REPEAT_BIAS,
    MAX_REPEAT_BIAS,
    SamplingSettings,
)
from deeprock.generation.scales import ROOT_NAMES
from deeprock.tab.tab import TUNINGS
from deeprock.training import runs as run_folders
from deeprock.training.jobs import models_root

RIFFS = "generated_riffs"
UPLOAD_DEFAULTS = "upload-defaults"  # (md5, bpm, meter) of the upload the form took them from
TEMPO_RANGE = (40, 250)
PRIMER_CHOICES = {"Dataset window": "window", "Song from the catalog": "song",
                  "Upload MIDI": "upload", "None": "none"}


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def cached_run(path: str, modified: float):
    return load_run(path)


@st.cache_resource(show_spinner="Loading the artist judge…", max_entries=2)
def cached_judge(catalog: str):
    from deeprock.generation.judge import JudgeError, catalog_judge

    try:
        return catalog_judge(catalog)
    except JudgeError:  # a broken judge file: the riffs come without its row
        return None


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
    by_path = {str(r.path): r for r in listed}
    chosen = remembered(st.selectbox, "run", str(listed[0].path), "Run", list(by_path),
                        format_func=lambda p: _run_label(by_path[p]),
                        help="Finished runs and the best checkpoint so far of running ones")
    if chosen not in by_path:  # the remembered run was deleted meanwhile
        remember("run", chosen := str(listed[0].path))
        st.rerun()
    best = by_path[chosen].path / run_folders.BEST
    try:
        return cached_run(chosen, best.stat().st_mtime), best.stat().st_mtime
    except RunError as error:
        st.error(str(error))
        st.stop()


def choose_primer(run):
    """The primer the widgets describe, or None with the reason shown."""
    choice = remembered(st.radio, "primer", "Dataset window", label="Primer",
                        options=list(PRIMER_CHOICES), horizontal=True)
    kind = PRIMER_CHOICES[choice]
    catalog = run.config.catalog if Path(run.config.catalog).is_file() else settings.load().catalog
    if kind == "song":
        return _song_primer(catalog, run)
    if kind == "upload":
        return _upload_primer(run)
    if kind == "none":
        return lambda request: primers.Primer.none()
    return lambda request: primers.window_primer(catalog, run.split, _rng(request.seed),
                                                 run.window_tokens,
                                                 run.style_artists(request.artist))


def _rng(seed: int):
    import numpy as np

    return np.random.default_rng(seed)


def _song_primer(catalog: str, run):
    search = remembered(st.text_input, "song_search", "", "Search songs",
                        placeholder="part of a path, e.g. an artist")
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
    return lambda request: primers.song_primer(catalog, song, run.window_tokens)


def _upload_primer(run):
    upload = st.file_uploader("MIDI file", type=["mid", "midi"],
                              max_upload_size=primers.UPLOAD_MAX_BYTES // 2**20)
    if upload is None:
        return None
    data = upload.getvalue()
    try:
        song, pitched = primers.upload_tracks(data, upload.name)
    except primers.PrimerError as error:
        st.error(str(error))
        return None
    _tempo_and_meter_from(song, pitched)
    labels = [f"{i}: {t.name or 'unnamed'} (channel {t.channel + 1}, {len(t.notes)} notes)"
              for i, t in enumerate(pitched)]
    choice = st.selectbox("Track", ["first guitar track", *labels])
    track = None if choice == "first guitar track" else labels.index(choice)
    return lambda request: primers.upload_primer(data, upload.name, run.window_tokens, track)


def _tempo_and_meter_from(song, pitched) -> None:
    """A new upload's own tempo and meter become the riff's (the user may change them after);
    a meter no riff can have (33/4) leaves the riff in 4/4."""
    tempo = min(max(round(song.tempo), TEMPO_RANGE[0]), TEMPO_RANGE[1])
    own = primers.upload_meter(song, pitched)
    if st.session_state.get(UPLOAD_DEFAULTS, (None,))[0] != song.md5:
        try:
            meter = meter_text(check_meter(*own))
        except ValueError:
            meter = "4/4"
        st.session_state[UPLOAD_DEFAULTS] = (song.md5, tempo, meter)
        remember("tempo", tempo)
        remember("meter", meter)
    _, tempo, meter = st.session_state[UPLOAD_DEFAULTS]
    st.caption(f"{song.path} plays at {song.tempo:g} bpm in {meter_text(own)}: the riff starts "
               f"there ({tempo} bpm in {meter}; change them under Tempo and Meter).")


def _meter_choices() -> list[str]:
    """The common meters, and an upload's own when it is none of them (9/8)."""
    common = [meter_text(meter) for meter in COMMON_METERS]
    upload = st.session_state.get(UPLOAD_DEFAULTS, (None, None, "4/4"))[2]
    return common + [upload] * (upload not in common)


def roll_dice() -> None:
    remember("seed", random.randrange(1_000_000))


def controls(run) -> tuple[GenerationRequest | None, OutputOptions]:
    """The form, every value remembered across pages; None for the request when the length
    is out of range (said on the page)."""
    left, middle, right = st.columns(3)
    unit = remembered(left.radio, "length_unit", "tokens", "Length in", ["tokens", "bars"],
                      horizontal=True, help="The generated part: the primer comes on top")
    length = remembered(left.number_input, f"length_{unit}", 200 if unit == "tokens" else 8,
                        f"Length ({unit})", step=1)
    variations = remembered(left.slider, "variations", 1, "Variations", 1, 8)
    seed_column, dice_column = left.columns([3, 1], vertical_alignment="bottom")
    seed = remembered(seed_column.number_input, "seed", 0, "Seed", 0, 2**31 - 1)
    dice_column.button(":material/casino:", on_click=roll_dice, help="A random seed")
    temperature = remembered(middle.slider, "temperature", 0.9, "Temperature (0 = greedy)",
                             0.0, 2.0, step=0.05)
    top_k = remembered(middle.number_input, "top_k", 0, "Top-k (0 = off)", 0, 10_000)
    top_p = remembered(middle.slider, "top_p", 0.95, "Top-p", 0.05, 1.0, step=0.05)
    penalty = remembered(middle.slider, "penalty", 1.15, "Repetition penalty", 1.0, 2.0,
                         step=0.05)
    max_repeat = remembered(middle.number_input, "max_repeat", 8,
                            "Most repeats of one token in a row (0 = no cap)", 0, 64)
    repeat_bias = remembered(middle.slider, "repeat_bias", DEFAULT_REPEAT_BIAS,
                             "Repeat the bar (0 = off)", 0.0, MAX_REPEAT_BIAS, step=0.5,
                             help="Favours the note and the gap the riff played two bars "
                                  "earlier at the same place in the bar, so its figure comes "
                                  "back as real riffs' do. In nats: each one makes them e = 2.7 "
                                  "times likelier (5: about 150 times). Never overrides the "
                                  "longest-copy limit")
    rhythm = "model"
    if run.arch == "seed":
        rhythm = remembered(right.radio, "rhythm", "statistics", "Rhythm (seed run)",
                            ["statistics", "fixed"], horizontal=True,
                            help="Drawn from the training rhythm, or the post's 0.3 quarters")
    artist = style_choice(run, right)
    tempo = remembered(right.slider, "tempo", 120, "Tempo (bpm)", *TEMPO_RANGE)
    meter = remembered(right.selectbox, "meter", "4/4", "Meter", _meter_choices(),
                       help="The riff's time signature: the bars of every file and of a "
                            "length in bars")
    program = remembered(right.selectbox, "program", 30, "Guitar sound", list(GUITAR_PROGRAMS),
                         format_func=lambda p: f"{GUITAR_PROGRAMS[p]} ({p})")
    primer_mode = remembered(right.selectbox, "primer_mode", PRIMER_MODES[0],
                             "Primer in the MIDI", PRIMER_MODES)
    backing = remembered(right.checkbox, "backing", False, "Backing (drums and bass)")
    tuning = remembered(right.selectbox, "tuning", "standard", "Tuning for the tab",
                        list(TUNINGS)[:2])
    capo = remembered(right.number_input, "capo", 0, "Capo", 0, 12)
    steering, loop, practice = riff_controls()
    options = OutputOptions(program, float(tempo), primer_mode, backing, tuning, capo,
                            practice=practice, meter=parse_meter(meter))
    limit = MAX_TOKENS if unit == "tokens" else MAX_BARS
    if not 1 <= length <= limit:
        left.error(f"A length of {length:,} {unit} is outside 1-{limit:,}: choose one in "
                   "that range.")
        return None, options
    sampling = SamplingSettings(temperature, int(top_k), top_p, penalty,
                                max_repeat=int(max_repeat), repeat_bias=float(repeat_bias))
    bars = int(length) if unit == "bars" and not loop.bars else None
    request = GenerationRequest(int(length) if unit == "tokens" else MAX_TOKENS, bars, sampling,
                                int(seed), variations, rhythm, **steering, loop=loop,
                                bar_twelfths=options.bar_twelfths, artist=artist)
    return request, options


def style_choice(run, column) -> str:
    """"In the style of": a conditioned run's artists with their file counts ("any" first);
    a run without conditioning generates as it always did."""
    if run.artists is None:
        return "any"
    files = dict(run.artists.choices())
    chosen = remembered(column.selectbox, f"artist:{run.path}", "any", "In the style of",
                        list(files), format_func=lambda name: f"{name} ({files[name]} files)",
                        help="The artist the run was told while training; any: no artist")
    return chosen if chosen in files else "any"


def riff_controls() -> tuple[dict, LoopSettings, Practice]:
    """Key and scale, the originality guard, loop length and practice audio."""
    with st.expander("Key, loop and practice audio", expanded=False):
        key_column, loop_column, practice_column = st.columns(3)
        key = remembered(key_column.selectbox, "key", AUTO, "Key (auto: the primer's)",
                         [AUTO, *ROOT_NAMES])
        scale = remembered(key_column.selectbox, "scale", AUTO, "Scale", list(SCALE_CHOICES),
                           help="any: no steering; auto: detected from the primer")
        strict = remembered(key_column.checkbox, "strict", False, "Strict (only in-scale notes)")
        max_copy = remembered(key_column.number_input, "max_copy", DEFAULT_MAX_COPY,
                              "Longest copy from the training songs (0 = no guard)", 0, 64)
        bars = remembered(loop_column.number_input, "loop_bars", 0,
                          "Loop length in bars (0 = free)", 0, MAX_LOOP_BARS)
        repeats = remembered(loop_column.number_input, "repeats", 1, "Play the loop K times",
                             1, MAX_REPEATS, disabled=not bars)
        turnaround = remembered(loop_column.checkbox, "turnaround", True,
                                "Turnaround in the last bar", disabled=not bars or repeats < 2)
        percent = remembered(practice_column.slider, "practice_tempo", 100,
                             "Playback tempo (% of the riff's)", *map(int, TEMPO_PERCENTS),
                             step=5)
        count_in = remembered(practice_column.checkbox, "count_in", False, "Count-in bar")
        click = remembered(practice_column.checkbox, "click", False, "Click track")
    steering = {"key": key, "scale": scale, "strict": strict, "max_copy": int(max_copy)}
    loop = LoopSettings(int(bars), int(repeats) if bars else 1, turnaround)
    return steering, loop, Practice(float(percent), count_in, click, loop=bool(bars))


def make_riffs(run, modified, make_primer, request, options) -> None:
    started = time.perf_counter()
    primer = make_primer(request)
    result = generate(run, primer, request)
    reference, problem = cached_reference(str(run.path), modified)
    messages = result.messages + ([f"No comparison with the training songs: {problem}"]
                                  if problem else []) + _key_message(result.key)
    judge = cached_judge(run.config.catalog)
    views = [_view(riff, reference, settings_record(run, result.primer, request, number,
                                                     **options.to_dict()), options, judge)
             for number, riff in enumerate(result.riffs)]
    st.session_state[RIFFS] = {"views": views, "messages": messages,
                               "seconds": time.perf_counter() - started}


def _key_message(key: dict | None) -> list[str]:
    """The key the riff was steered toward, and where it came from."""
    if key is None:
        return []
    fit = f", {key['fit']:.0%} of the primer's notes in it" if key["fit"] is not None else ""
    source = "detected from the primer" if key["source"] == "primer" else "chosen"
    return [f"Key: {key['root']} {key['scale']} ({source}{fit})."]


def _view(riff, reference, record: dict, options: OutputOptions, judge=None) -> dict:
    """What a shown riff keeps between reruns: its render (downloads and the save reuse its
    files), piano roll, statistics (the artist judge's top 3 when the catalog has a judge) and
    settings.json."""
    from deeprock.generation.judge import judge_rows
    from deeprock.generation.reference import comparison_rows
    from deeprock.generation.roll import riff_roll
    from deeprock.generation.stats import riff_stats
    from deeprock.generation.structure import riff_structure

    copied = reference.longest_copy(riff) if reference is not None else None
    title = f"variation {record['variation'] + 1}"
    structure = riff_structure(riff) if not record["request"]["loop"]["bars"] else None
    return {"render": RiffRender(riff, options), "figure": riff_roll(riff, title, options.meter),
            "stats": comparison_rows(riff_stats(riff), reference, copied, structure)
            + judge_rows(judge, riff),
            "record": record}


def regenerate_saved(entry) -> None:
    """A gallery riff made again from its settings.json, shown as the result."""
    started = time.perf_counter()
    record = {key: value for key, value in entry.record.items()
              if key not in ("riff", "saved", "name")}
    try:
        run = cached_run(record["run"], (Path(record["run"]) / run_folders.BEST).stat().st_mtime)
        riff = regenerate(record, run)
    except (OSError, RunError, KeyError, ValueError) as error:
        st.error(f"Cannot regenerate {entry.name}: {error}")
        return
    same = ("the same riff as saved" if riff == entry.riff else
            "not the saved riff: its run has changed since (trained on?)")
    options = OutputOptions.from_dict(record.get("output", {}))
    st.session_state[RIFFS] = {"views": [_view(riff, None, record, options)],
                               "messages": [f"Regenerated {entry.name} from its settings: "
                                            f"{same}."],
                               "seconds": time.perf_counter() - started}
    st.rerun()


def show_riff(view: dict, number: int) -> None:
    render = view["render"]
    heading, primer_note = riff_view.lengths(render.riff, render.options,
                                             view["record"]["request"]["length_bars"])
    st.subheader(f"Variation {view['record']['variation'] + 1}: {heading}")
    if primer_note:
        st.caption(primer_note)
    riff_view.audio(render)
    st.plotly_chart(view["figure"], key=f"roll-{number}")
    riff_view.show_tab(render, key=f"tab-page-{number}")
    st.dataframe(view["stats"], hide_index=True)
    riff_view.downloads(render, f"riff-{number + 1}", str(number))
    with st.popover("Save to the gallery"):
        name = st.text_input("Name", f"riff-{view['record']['request']['seed']}-{number + 1}",
                             key=f"name-{number}")
        if st.button("Save", key=f"save-{number}"):
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


st.title("Generate")
run, modified = choose_run()
make_primer = choose_primer(run)
request, options = controls(run)
if st.button("Generate", type="primary", disabled=make_primer is None or request is None):
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
riff_view.show_gallery(gallery.riffs_root(), regenerate_saved)
