"""Train: start, watch, stop, resume and fine-tune background training; compare runs with the
baselines.

Training is its own OS process (deeprock.training.jobs); this page only reads run folders, so it
never imports TensorFlow, and a rerun, a closed tab or an app restart loses nothing.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from deeprock import settings
from deeprock.corpus.selection import Selection, selection_path
from deeprock.training import charts, jobs, runs
from deeprock.training.jobs import JobError, TrainRequest

# One line each: what the setting does to the music the model will write.
HELP = {
    "arch": "deeprock learns notes, timing and durations together; seed is the original post's "
            "network (notes only, fixed spacing), kept to compare against.",
    "data": "A saved selection trains on the guitar tracks you chose on the Dataset health page; "
            "the whole catalog takes every guitar track.",
    "seq_len": "Tokens of context the model sees: longer remembers riffs and song sections, "
               "shorter learns only licks.",
    "unique_factor": "Windows train only with more distinct tokens than this: higher drops "
                     "repetitive chugging, too high leaves only solos.",
    "epochs": "Passes over the training songs: more learns more, until it starts quoting them.",
    "batch_size": "Windows per step: bigger is faster per epoch (on a GPU) but learns a bit "
                  "less per pass.",
    "learning_rates": "How big each learning step is; several rates (space separated) train one "
                      "run each, the post's sweep. Too high gives noise, too low learns nothing.",
    "units": "Memory cells per LSTM layer: more can hold richer riffs, and needs more songs.",
    "layers": "Stacked LSTMs: deeper learns phrase structure over notes, slower to train.",
    "embedding": "Size of each token's learned description: how finely chords are told apart.",
    "dropout": "Share of connections silenced while training: higher copies training songs less.",
    "validation_share": "Share of songs held out to judge the model: never learned from.",
    "min_count": "Chords seen fewer times than this become <unk>: higher forgets rare voicings.",
    "augment_semitones": "Also train on riffs transposed by up to this many semitones: more "
                         "keys, same songs (0: off).",
    "patience": "Stop after this many epochs without a better validation loss (0: never), "
                "before the model memorises songs.",
    "max_minutes": "Time budget of the whole run, resumes included: training stops cleanly "
                   "after the last epoch that fits in it, and Resume continues with what is "
                   "left (0: none).",
}
# (column, label, TrainRequest field, limits) of the form's fields
FIELDS = (
    (0, "Sequence length", "seq_len", {"min_value": 2}),
    (0, "Unique factor", "unique_factor", {"min_value": 0}),
    (0, "Epochs", "epochs", {"min_value": 1}),
    (0, "Batch size", "batch_size", {"min_value": 1}),
    (1, "Learning rate(s)", "learning_rates", {}),
    (1, "LSTM units", "units", {"min_value": 1}),
    (1, "LSTM layers", "layers", {"min_value": 1}),
    (1, "Time budget (minutes)", "max_minutes", {"min_value": 0.0, "step": 5.0}),
    (2, "Embedding size", "embedding", {"min_value": 1}),
    (2, "Dropout", "dropout", {"min_value": 0.0, "max_value": 0.9, "step": 0.05}),
    (2, "Validation share", "validation_share",
     {"min_value": 0.01, "max_value": 0.9, "step": 0.05}),
    (3, "Min count", "min_count", {"min_value": 1}),
    (3, "Transpose ± semitones", "augment_semitones", {"min_value": 0, "max_value": 6}),
    (3, "Early-stopping patience", "patience", {"min_value": 0}),
)
WATCHED, CONFIRM_DELETE, ESTIMATE = "train_watched_run", "train_confirm_delete", "train_estimate"
FINETUNE = "train_finetune_run"
STARTED, ENDED = "train_started", "train_ended_run"
# job states after which the live panel stops polling
ENDED_STATES = ("finished", "failed", "stopped", "interrupted", "exited")

st.title("Train")
root = jobs.models_root()
current = settings.load()


@st.cache_data(show_spinner=False, ttl=600)
def gpu_listed() -> bool:
    return jobs.gpu_available()


@st.cache_data(show_spinner=False)
def tensorflow_devices() -> str:
    return jobs.describe_devices()


def shown_name(folder: Path) -> str:
    """A run's name under models/ (its path when it lives elsewhere)."""
    try:
        return str(Path(folder).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(folder)


def watch(run: str | Path) -> None:
    """Show `run` in the live panel, which polls until it sees the run ended."""
    st.session_state[WATCHED] = str(run)
    st.session_state.pop(ENDED, None)


def reattach(listed: list[runs.RunSummary]) -> None:
    """After an app restart: the training that holds the machine, else the newest run."""
    if WATCHED in st.session_state:
        return
    active = jobs.active_job()
    st.session_state[WATCHED] = (active["run"] if active
                                 else str(listed[0].path) if listed else None)


def recorded_gpu(listed: list[runs.RunSummary]) -> bool:
    """Whether the newest run trained on a GPU (cheaper than asking TensorFlow)."""
    return bool(listed) and "GPU" in listed[0].device.upper()


def hyperparameters(base: TrainRequest, profile: str) -> dict:
    """The number fields, in four columns, keyed by the defaults profile so that switching it
    resets them: {TrainRequest field: value}, plus the learning rates' text."""
    values, columns = {}, st.columns(4)
    for column, label, name, limits in FIELDS:
        with columns[column]:
            if name == "learning_rates":
                values[name] = st.text_input(label, " ".join(map(repr, base.learning_rates)),
                                             key=f"{profile}_lr", help=HELP[name])
                continue
            values[name] = st.number_input(label, value=getattr(base, name),
                                           key=f"{profile}_{name}", help=HELP[name], **limits)
    return values


def parse_rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise JobError(f"learning rates {text!r} are not numbers: write e.g. 0.002 or "
                       "0.01 0.001 0.0001") from None
    if not rates or any(not 0 < rate < 1 for rate in rates):
        raise JobError(f"learning rates {text!r} must each be between 0 and 1")
    return rates


def request_form(catalog: str, listed: list[runs.RunSummary]
                 ) -> tuple[TrainRequest | None, str, str | None]:
    """The hyperparameter form: (request or None when unusable, run name, button pressed)."""
    top = st.columns([1, 1, 2])
    gpu = top[0].toggle("GPU defaults", value=recorded_gpu(listed) or gpu_listed(),
                        help="Bigger networks and batches a GPU trains in minutes.")
    arch = top[1].selectbox("Architecture", ["deeprock", "transformer", "seed"],
                            help=HELP["arch"])
    profile = f"{'gpu' if gpu else 'cpu'}_{arch}"
    saved = selection_path(catalog)
    windows = selection_windows(str(saved), saved.stat().st_mtime if saved.is_file() else 0.0)
    base = replace(jobs.defaults(catalog, gpu, arch), **windows)
    with st.form("new_run"):
        # a fresh default name after each start: a new widget key (its state cannot be reset)
        started = st.session_state.get(STARTED, 0)
        name = st.text_input("Run name", f"run-{time.strftime('%Y%m%d-%H%M%S')}",
                             key=f"run_name_{started}",
                             help="A folder under models/: letters, digits, . _ -")
        choices = (["Saved selection", "Whole catalog"] if saved.is_file() else ["Whole catalog"])
        data = st.radio("Data", choices, horizontal=True, help=HELP["data"])
        values = hyperparameters(base, profile)
        buttons = st.columns([1.4, 1.2, 4])
        estimate = buttons[0].form_submit_button("Estimate epoch time")
        start = buttons[1].form_submit_button("Start training", type="primary")
    pressed = "start" if start else "estimate" if estimate else None
    if windows:
        st.caption(f"Sequence length {windows['seq_len']} and unique factor "
                   f"{windows['unique_factor']} start from the saved training selection "
                   "(Dataset health, Windows tab).")
    if arch == "seed":
        st.caption("The seed network is the post's: units, layers and embedding are fixed "
                   "(two LSTMs of 256 over scaled ids).")
    try:
        values["learning_rates"] = parse_rates(values["learning_rates"])
        request = TrainRequest(catalog=catalog, arch=arch, **values,
                               selection=str(saved) if data == "Saved selection" else None)
    except JobError as error:
        if pressed:
            st.error(str(error))
        return None, name, None
    return request, name, pressed


@st.cache_data(show_spinner=False, max_entries=4)
def selection_windows(path: str, mtime: float) -> dict:
    """The saved selection's window settings (Dataset health's Windows tab), {} without a
    readable one; mtime: a newer save is read again."""
    if not mtime:
        return {}
    try:
        chosen = Selection.load(path).settings
    except ValueError:
        return {}
    return {"seq_len": chosen.seq_len, "unique_factor": chosen.unique_factor}


def start(request: TrainRequest, name: str) -> None:
    active = jobs.active_job()
    if active:
        st.warning(f"Training {active['run']} is running (pid {active['pid']}): one training at "
                   "a time on this machine. Stop it or wait for it.")
        st.button(f"Open {active['run']}", key="open_active", on_click=watch,
                  args=(active["run"],))
        return
    try:
        watch(jobs.start(request, jobs.run_folder(name, root)))
    except JobError as error:
        st.error(str(error))
        return
    st.session_state[STARTED] = st.session_state.get(STARTED, 0) + 1
    st.success(f"Started training into {st.session_state[WATCHED]}.")


def show_estimate(request: TrainRequest) -> None:
    with st.spinner("Timing a few batches (loading TensorFlow takes a few seconds)…"):
        try:
            found = jobs.estimate(request)
        except JobError as error:
            st.error(str(error))
            return
    st.session_state[ESTIMATE] = jobs.describe_estimate(found, request)


def progress_panel(folder: Path, state: str, status: dict, metrics: list[dict],
                   max_minutes: float) -> None:
    """Epoch, the run's time left and speed from progress.json during an epoch, else from the
    last epoch."""
    progress = runs.read_json(folder / runs.PROGRESS)
    columns = st.columns(4)
    epoch, epochs = progress.get("epoch", status.get("epoch", 0)), status.get("epochs", 0)
    columns[0].metric("Epoch", f"{epoch} / {epochs}" if epochs else epoch)
    eta = progress.get("eta_seconds")
    if eta and max_minutes:  # the budget ends the run sooner than its epochs would
        eta = min(eta, max(max_minutes * 60 - runs.seconds_used(metrics)
                           - progress.get("elapsed_seconds", 0.0), 0.0))
    columns[1].metric("Run time left", f"{eta / 60:.1f} min" if state == "running" and eta
                      else "-", help="Until the whole run ends: its epochs, or its time budget")
    speed = progress.get("samples_per_second") or (metrics[-1].get("samples_per_second")
                                                   if metrics else None)
    columns[2].metric("Samples/s", f"{speed:,.0f}" if speed else "-")
    best = status.get("best_val_loss")
    columns[3].metric("Best val loss", f"{best:.3f}" if best is not None else "-")
    if state == "running" and progress.get("batches"):
        done, elapsed = progress.get("batch", 0), progress.get("elapsed_seconds", 0.0)
        left = elapsed * (progress["batches"] - done) / max(done, 1)
        st.progress(min(done / progress["batches"], 1.0),
                    text=f"epoch {epoch}: batch {done} of {progress['batches']}, about "
                         f"{left:.0f} s left in this epoch")
    if status.get("device"):
        cudnn = {True: "cuDNN LSTM kernel", False: "no cuDNN"}.get(status.get("cudnn"), "")
        st.caption(f"{status['device']} · {status.get('backend', '')} {cudnn}".strip())


def watched_run(polling: bool) -> None:
    """The watched run's panel, polling its folder every 2 s while `polling` (only this part of
    the page reruns). When the run has ended the whole page reruns once, so the runs table and
    the verdict show it, and the panel stops polling."""
    run = st.session_state.get(WATCHED)
    if not run:
        st.info("No run yet: fill in the form below and press Start training.")
        return
    if not Path(run).is_dir():
        st.info(f"Run {run} is gone (deleted?): open another one below.")
        return
    folder = jobs.shown_folder(run)
    status = runs.read_status(folder)  # once a poll: the state, the reason and the panel
    state = jobs.job_state(run, status)
    reason = status.get("reason")
    st.subheader(f"{shown_name(folder)}: {state}")
    if reason and state != "running":
        st.caption(reason)
    metrics = runs.read_metrics(folder)
    train = runs.read_json(folder / runs.CONFIG).get("train", {})
    progress_panel(folder, state, status, metrics, train.get("max_minutes", 0.0))
    if state in ENDED_STATES and polling:
        st.session_state[ENDED] = run
        st.rerun()
    if state in ("running", "starting") and st.button("Stop", key="stop_run",
                                                      help="Abandon this epoch, keep the last"):
        jobs.stop(run)
    if state in ("stopped", "interrupted"):
        resume_button(run, train, metrics)
    if metrics:
        left, right = st.columns(2)
        left.plotly_chart(charts.loss_curves(metrics), key="loss_curves")
        right.plotly_chart(charts.accuracy_curves(metrics), key="accuracy_curves")
    if state in ("exited", "failed"):
        st.code(jobs.log_tail(run) or "(log.txt is empty)", language=None)


def resume_button(run: str, train: dict, metrics: list[dict]) -> None:
    """Resume with the run's own settings: its time budget counts the whole run."""
    budget = train.get("max_minutes", 0.0)
    st.caption(f"Resume continues from epoch {len(metrics)} to {train.get('epochs', '?')} "
               "epochs" + (f" with {runs.budget_note(budget, metrics)}: the time budget counts "
                           "the whole run, resumes included." if budget else "."))
    if st.button("Resume", key="resume_run", type="primary"):
        try:
            jobs.resume(run)
        except JobError as error:
            st.error(str(error))
            return
        st.session_state.pop(ENDED, None)
        st.rerun()  # the whole page: the panel polls again


def runs_table(listed: list[runs.RunSummary]) -> None:
    rows = [{"run": r.name, "arch": r.arch, "status": r.state,
             "best val loss": _rounded(r.best_val_loss, 3),
             "perplexity": _rounded(r.perplexity, 1), "epochs": r.epochs,
             "minutes": round(r.minutes, 1), "device": r.device, "size MB": round(r.size_mb, 1)}
            for r in listed]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="runs_table")
    sweeps = sorted(str(p.parent.relative_to(root)) + " (whole sweep)"
                    for p in root.glob("**/" + runs.SWEEP))
    left, right = st.columns([3, 1])
    chosen = left.selectbox("Run", [r.name for r in listed] + sweeps, key="chosen_run")
    chosen = chosen.removesuffix(" (whole sweep)")
    with right:
        st.button("Open", key="open_run", on_click=watch, args=(root / chosen,))
        if st.button("Delete…", key="delete_run"):
            st.session_state[CONFIRM_DELETE] = chosen
        if st.button("Fine-tune on…", key="finetune_run"):
            st.session_state[FINETUNE] = chosen
    confirm_delete()
    finetune_form()


@st.cache_data(show_spinner=False, max_entries=4)
def catalog_artists(catalog: str, modified: float) -> dict[str, int]:
    """Artist → files of a catalog, largest first (its artist rule)."""
    from deeprock.corpus.artists import artist_table
    from deeprock.corpus.catalog import Catalog

    with Catalog(catalog) as opened:
        return {row["artist"]: row["files"] for row in artist_table(opened)}


def finetune_form() -> None:
    """The chosen run's weights continued on some artists' songs (deeprock train --init-from)."""
    name = st.session_state.get(FINETUNE)
    if not name:
        return
    catalog = runs.read_json(root / name / runs.CONFIG).get("catalog", "")
    files = catalog_artists(catalog, os.path.getmtime(catalog)) if os.path.isfile(catalog) else {}
    with st.container(border=True):
        st.markdown(f"**Fine-tune {name}**: its weights continue on the chosen artists' songs "
                    "at a tenth of its learning rate, stopping early on their held-out songs.")
        artists = st.multiselect("Artists (none: the run's own data)", list(files),
                                 format_func=lambda a: f"{a} ({files[a]} files)",
                                 key="finetune_artists")
        new_name = st.text_input("New run name", f"{name}-tuned", key="finetune_name")
        go, cancel = st.columns(2)
        if go.button("Start fine-tuning", key="start_finetune", type="primary"):
            try:
                watch(jobs.finetune(root / name, artists, jobs.run_folder(new_name, root)))
            except JobError as error:
                st.error(str(error))
                return
            st.session_state.pop(FINETUNE)
            st.rerun()
        if cancel.button("Cancel", key="cancel_finetune"):
            st.session_state.pop(FINETUNE)
            st.rerun()


def confirm_delete() -> None:
    name = st.session_state.get(CONFIRM_DELETE)
    if not name:
        return
    st.warning(f"Delete run {name} and its models for good?")
    yes, no = st.columns(2)
    if yes.button("Yes, delete", key="confirm_delete", type="primary"):
        st.session_state.pop(CONFIRM_DELETE)
        try:
            jobs.delete(root / name, root)
        except JobError as error:
            st.error(str(error))
            return
        if st.session_state.get(WATCHED) and Path(st.session_state[WATCHED]) == root / name:
            st.session_state[WATCHED] = None
        st.rerun()
    if no.button("Cancel", key="cancel_delete"):
        st.session_state.pop(CONFIRM_DELETE)
        st.rerun()


def _rounded(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def compare(listed: list[runs.RunSummary]) -> None:
    with_curves = [r.name for r in listed if r.epochs]
    if not with_curves:
        return
    chosen = st.multiselect("Runs to compare", with_curves, default=with_curves[:4],
                            key="compare_runs")
    if chosen:
        curves = {name: runs.read_metrics(root / name) for name in chosen}
        st.plotly_chart(charts.validation_overlay(curves), key="overlay")


def evaluation(listed: list[runs.RunSummary]) -> None:
    """Per-head validation figures beside the unigram and trigram baselines, plainly judged."""
    scored = [r.name for r in listed if r.epochs]
    if not scored:
        return
    name = st.selectbox("Run to evaluate", scored, key="evaluated_run")
    scores = charts.head_scores(runs.read_metrics(root / name))
    baselines = runs.read_json(root / name / runs.BASELINES)
    table = [{"head": charts.HEAD_LABELS[head], "val loss": round(s.loss, 3),
              "val accuracy": round(s.accuracy, 3), "perplexity": round(s.perplexity, 1)}
             for head, s in scores.items()]
    left, right = st.columns(2)
    left.dataframe(pd.DataFrame(table), hide_index=True, key="head_scores")
    if baselines:
        left.caption(f"Baselines on the same {baselines.get('targets', '?')} validation tokens: "
                     f"unigram perplexity {baselines['unigram_perplexity']:.1f}, interpolated "
                     f"trigram {baselines['trigram_perplexity']:.1f}.")
        right.plotly_chart(charts.perplexity_bars(scores, baselines), key="perplexity_bars")
    judged = charts.verdict(scores, baselines)
    if judged:
        beats, sentence = judged
        (left.success if beats else left.warning)(sentence)


listed = runs.list_runs(root)  # once a rerun: the form's defaults, the table, the panels
reattach(listed)
panel = st.container()  # filled after the form: a Start there changes the watched run
st.divider()
st.subheader("New run")
if not Path(current.catalog).is_file():
    st.info(f"No catalog at {current.catalog}: scan a MIDI folder on the Home page first.")
else:
    request, name, pressed = request_form(current.catalog, listed)
    if request and pressed == "start":
        start(request, name)
    elif request and pressed == "estimate":
        show_estimate(request)
    if st.session_state.get(ESTIMATE):
        st.info(st.session_state[ESTIMATE])
watched = st.session_state.get(WATCHED)
live = bool(watched) and st.session_state.get(ENDED) != watched
with panel:
    st.fragment(watched_run, run_every=2 if live else None)(live)
with st.expander("Devices"):
    st.write("An NVIDIA GPU is listed by nvidia-smi." if gpu_listed()
             else "No NVIDIA GPU listed by nvidia-smi: training runs on the CPU.")
    if st.button("Ask TensorFlow (a few seconds)", key="detect_devices"):
        st.write(tensorflow_devices())
if listed:
    st.divider()
    st.subheader("Runs")
    runs_table(listed)
    st.subheader("Validation next-token loss")
    compare(listed)
    st.subheader("Did it learn anything?")
    evaluation(listed)
