"""The Train page through AppTest: start a tiny job, see its progress, stop it, resume it, a
second Start, a killed job shown as interrupted, the runs table, the verdict against the
trigram, delete; per-head scores."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from deeprock import settings
from deeprock.corpus import demo
from deeprock.corpus.scan import scan
from deeprock.corpus.selection import Selection, SelectionSettings, selection_path
from deeprock.training import charts, jobs, runs

ROOT = Path(__file__).resolve().parents[1]
TINY = {"LSTM units": 16, "Embedding size": 8, "Sequence length": 16, "LSTM layers": 1,
        "Epochs": 300, "Early-stopping patience": 0}


@pytest.fixture
def page_env(tmp_path, monkeypatch) -> Path:
    """A 20-file catalog named by the settings, runs and lock in tmp_path; jobs stopped after."""
    folder = tmp_path / "demo"
    demo.generate(folder, files=20, seed=1)
    catalog = tmp_path / "catalog.sqlite"
    scan([str(folder)], str(catalog), jobs=1)
    monkeypatch.setenv("DEEPROCK_SETTINGS", str(tmp_path / "settings.json"))
    monkeypatch.setenv("DEEPROCK_TRAIN_LOCK", str(tmp_path / "train.lock"))
    monkeypatch.setenv("DEEPROCK_MODELS", str(tmp_path / "models"))
    monkeypatch.chdir(ROOT)
    settings.save(settings.Settings(str(folder), str(catalog)))
    yield tmp_path / "models"
    active = jobs.active_job()
    if active:
        jobs.stop(active["run"])
        jobs.wait(active["run"], 60)


def open_page() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.switch_page("pages/train.py").run()
    assert not app.exception, app.exception
    return app


def rerun_until(app: AppTest, condition, seconds: float = 90.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.run()
        assert not app.exception, app.exception
        if condition(app):
            return
        time.sleep(0.5)
    pytest.fail(f"page never showed {what}: {[h.value for h in app.subheader]}")


def heading(app: AppTest) -> str:
    return app.subheader[0].value


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)


def test_start_progress_stop_resume_delete(page_env):
    app = open_page()
    assert "No run yet" in app.info[0].value
    for label, value in TINY.items():
        next(n for n in app.number_input if n.label == label).set_value(value)
    next(t for t in app.text_input if t.label == "Run name").set_value("tiny")
    button(app, "Start training").click().run()
    assert not app.exception, app.exception
    assert any("Started training" in s.value for s in app.success), [*app.error, *app.warning]
    run = page_env / "tiny"
    rerun_until(app, lambda a: heading(a).endswith(": running")
                and metric(a, "Samples/s") != "-", what="a running epoch and its speed")

    button(app, "Start training").click().run()  # a second Start names the active run
    assert any(f"Training {run} is running" in w.value for w in app.warning)
    button(app, f"Open {run}").click().run()
    assert heading(app).startswith("tiny: ")

    button(app, "Stop").click().run()
    rerun_until(app, lambda a: heading(a).endswith(": stopped"), what="stopped")
    stopped_at = runs.read_status(run)["epoch"]
    assert stopped_at >= 1
    rerun_until(app, lambda a: len(a.get("plotly_chart")) >= 2, what="the curves")

    first_pid = runs.read_json(run / runs.JOB)["pid"]
    button(app, "Resume").click().run()
    assert not app.error, app.error[0].value
    rerun_until(app, lambda a: heading(a).endswith(": running")
                and runs.read_status(run).get("pid") not in (None, first_pid),
                what="the resumed run")  # test_jobs checks the epochs that follow
    os.kill(runs.read_status(run)["pid"], signal.SIGKILL)  # a crash, or the machine rebooting
    rerun_until(app, lambda a: heading(a).endswith(": interrupted"), what="interrupted")
    assert any(b.label == "Resume" for b in app.button)
    epochs = [row["epoch"] for row in runs.read_metrics(run)]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= stopped_at

    table = app.dataframe[0].value
    assert list(table["run"]) == ["tiny"] and list(table["status"]) == ["interrupted"]
    judged = [m.value for m in [*app.warning, *app.success] if "interpolated trigram" in m.value]
    assert judged and "perplexity" in judged[0]

    button(app, "Delete…").click().run()
    assert any("Delete run tiny" in w.value for w in app.warning)
    button(app, "Yes, delete").click().run()
    assert not app.exception, app.exception
    assert not run.exists()
    assert "No run yet" in app.info[0].value


def test_restart_reattaches_to_an_interrupted_run_and_offers_resume(page_env):
    run = page_env / "killed"
    run.mkdir(parents=True)
    runs.write_json(run / runs.CONFIG, {"format": 1, "model": {"arch": "deeprock"}})
    runs.write_json(run / runs.STATUS, {"state": "running", "pid": 2**22 + 11, "epoch": 1,
                                        "epochs": 5, "started": 1.0, "updated": 2.0})
    runs.write_metrics(run, [{"epoch": 1, "loss": 5.0, "val_loss": 4.5,
                              "val_next_token_loss": 3.0, "val_next_token_accuracy": 0.2}])
    app = open_page()
    assert heading(app) == "killed: interrupted"
    assert any(b.label == "Resume" for b in app.button)
    assert list(app.dataframe[0].value["status"]) == ["interrupted"]


def test_a_rerun_lists_runs_once_and_a_poll_reads_status_once(page_env, monkeypatch):
    """The runs listing serves the form, the table and the panels; the live fragment's state,
    reason and progress come from one read of status.json (before: 2-3 listings a rerun, 3
    status reads a poll)."""
    run = page_env / "watched"
    run.mkdir(parents=True)
    runs.write_json(run / runs.CONFIG, {"format": 1, "model": {"arch": "deeprock"}})
    runs.write_json(run / runs.STATUS, {"state": "running", "pid": 2**22 + 13, "epoch": 1,
                                        "epochs": 5, "started": 1.0, "updated": 2.0})
    runs.write_metrics(run, [{"epoch": 1, "loss": 5.0, "val_loss": 4.5}])
    listings, status_reads, listing = [], [], [False]
    list_runs, read_status = runs.list_runs, runs.read_status

    def counted_listing(*args, **kwargs):
        listings.append(1)
        listing[0] = True
        try:
            return list_runs(*args, **kwargs)
        finally:
            listing[0] = False

    def counted_status(folder):
        if not listing[0]:  # the listing's summaries read each run's status once, apart
            status_reads.append(folder)
        return read_status(folder)

    monkeypatch.setattr(runs, "list_runs", counted_listing)
    monkeypatch.setattr(runs, "read_status", counted_status)
    app = open_page()
    assert heading(app) == "watched: interrupted"
    listings.clear()
    status_reads.clear()
    app.run()  # a full rerun runs the fragment once
    assert not app.exception, app.exception
    assert heading(app) == "watched: interrupted" and metric(app, "Epoch") == "1 / 5"
    assert len(listings) == 1 and status_reads == [run]


@pytest.fixture
def trainer():
    """A live process whose command line names deeprock: a run it holds reads as running."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                                "deeprock.cli"])
    yield process
    process.kill()
    process.wait()


def live_run(folder: Path, pid: int, max_minutes: float) -> Path:
    """A run 2 epochs (120 s each) into 10, its third epoch 30 s and 10 of 40 batches in."""
    folder.mkdir(parents=True)
    runs.write_json(folder / runs.CONFIG, {"format": 1, "model": {"arch": "deeprock"},
                                           "train": {"epochs": 10, "max_minutes": max_minutes}})
    runs.write_json(folder / runs.STATUS, {"state": "running", "pid": pid, "epoch": 2,
                                           "epochs": 10, "started": 1.0, "updated": 2.0})
    runs.write_metrics(folder, [{"epoch": e, "loss": 5.0, "val_loss": 4.5, "seconds": 120.0}
                                for e in (1, 2)])
    runs.write_json(folder / runs.PROGRESS, {"epoch": 3, "epochs": 10, "batch": 10,
                                             "batches": 40, "elapsed_seconds": 30.0,
                                             "eta_seconds": 990.0, "samples_per_second": 50.0})
    return folder


def test_time_left_is_the_runs_and_the_epochs_is_in_the_progress_bar(page_env, trainer):
    live_run(page_env / "budgeted", trainer.pid, max_minutes=5.0)
    app = open_page()
    assert heading(app) == "budgeted: running"
    # 990 s of epochs left, but 300 - 240 used - 30 elapsed = 30 s of budget
    assert metric(app, "Run time left") == "0.5 min"
    assert "about 90 s left in this epoch" in app.get("progress")[0].proto.text


def test_the_page_reruns_once_when_the_watched_run_ends_and_stops_polling(page_env, trainer):
    run = live_run(page_env / "ending", trainer.pid, max_minutes=0.0)
    app = open_page()
    assert metric(app, "Run time left") == "16.5 min"
    assert list(app.dataframe[0].value["status"]) == ["running"]
    assert "train_ended_run" not in app.session_state  # polling
    runs.update_status(run, state="finished", reason="10 epochs done", pid=None)
    trainer.kill()
    trainer.wait()
    app.run()
    assert heading(app) == "ending: finished"
    assert app.session_state["train_ended_run"] == str(run)  # the panel polls no more
    assert list(app.dataframe[0].value["status"]) == ["finished"]
    button(app, "Open").click().run()  # opening a run polls it again, until it is seen ended
    assert app.session_state["train_ended_run"] == str(run) and not app.exception


def test_the_form_starts_from_the_saved_selections_windows(page_env):
    catalog = settings.load().catalog
    Selection(catalog, SelectionSettings(seq_len=60, unique_factor=14), []).save(
        selection_path(catalog))
    app = open_page()
    values = {n.label: n.value for n in app.number_input}
    assert (values["Sequence length"], values["Unique factor"]) == (60, 14)
    assert any("start from the saved training selection" in c.value for c in app.caption)


def test_estimate_shows_the_epoch_time_of_the_form_settings(page_env, monkeypatch):
    asked = []

    def fake_estimate(request):  # the real one loads TensorFlow: test_jobs covers the CLI side
        asked.append(request)
        return {"seconds_per_batch": 0.25, "batches_per_epoch": 40, "epoch_seconds": 10.0,
                "device": "CPU (2 cores, x86_64)"}

    monkeypatch.setattr(jobs, "estimate", fake_estimate)
    app = open_page()
    next(n for n in app.number_input if n.label == "Epochs").set_value(30)
    app.text_input(key="cpu_deeprock_lr").set_value("0.01 0.001")
    button(app, "Estimate epoch time").click().run()
    assert asked[0].epochs == 30 and asked[0].learning_rates == [0.01, 0.001]
    shown = [i.value for i in app.info if "per epoch" in i.value]
    assert shown == ["About 10 s per epoch (40 batches of 250 ms) on CPU (2 cores, x86_64): "
                     "30 epochs x 2 rate(s) ≈ 10.0 minutes."]
    next(n for n in app.number_input if n.label == "Time budget (minutes)").set_value(2.0)
    button(app, "Estimate epoch time").click().run()
    shown = [i.value for i in app.info if "per epoch" in i.value]
    assert shown == ["About 10 s per epoch (40 batches of 250 ms) on CPU (2 cores, x86_64): "
                     "12 epochs x 2 rate(s) (the 2-minute budget stops each run after 12 "
                     "epochs) ≈ 4.0 minutes."]


def test_bad_learning_rates_are_refused_on_the_page(page_env):
    app = open_page()
    app.text_input(key="cpu_deeprock_lr").set_value("fast")
    button(app, "Start training").click().run()
    assert any("are not numbers" in e.value for e in app.error)
    assert not page_env.exists() or not any(page_env.iterdir())


def test_head_scores_and_verdict_against_the_trigram():
    deeprock_rows = [{"epoch": 1, "val_loss": 9.0, "val_next_token_loss": 3.0,
                      "val_next_token_accuracy": 0.3, "val_next_delta_loss": 1.0,
                      "val_next_delta_accuracy": 0.7, "val_next_duration_loss": 1.5,
                      "val_next_duration_accuracy": 0.6},
                     {"epoch": 2, "val_loss": math.nan}]
    scores = charts.head_scores(deeprock_rows)
    assert set(scores) == {"next_token", "next_delta", "next_duration"}
    assert scores["next_token"].perplexity == pytest.approx(math.exp(3.0))
    beats, sentence = charts.verdict(scores, {"trigram_perplexity": 25.0})
    assert beats and "beats" in sentence
    seed = charts.head_scores([{"epoch": 1, "val_loss": 4.0, "val_accuracy": 0.1},
                               {"epoch": 2, "val_loss": 3.5, "val_accuracy": 0.15}])
    assert list(seed) == ["next_token"] and seed["next_token"].accuracy == 0.15
    beats, sentence = charts.verdict(seed, {"trigram_perplexity": 20.0})
    assert not beats and "does not beat" in sentence
    assert charts.verdict(seed, {}) is None and charts.head_scores([]) == {}


def test_a_runs_row_offers_fine_tuning_on_its_catalogs_artists(page_env, monkeypatch):
    from deeprock.corpus.artists import artist_table
    from deeprock.corpus.catalog import Catalog
    from tests.generate_fixtures import tiny_run

    catalog = page_env.parent / "catalog.sqlite"
    parent = tiny_run(page_env / "general", catalog, fit_batches=2)
    with Catalog(catalog) as opened:
        largest = artist_table(opened)[0]
    launched = []
    monkeypatch.setattr(jobs, "_launch", lambda argv, out: launched.append(argv) or out)
    app = open_page()
    button(app, "Fine-tune on…").click().run()
    artists = next(m for m in app.multiselect if m.label.startswith("Artists"))
    assert artists.options[0] == f"{largest['artist']} ({largest['files']} files)"
    artists.set_value([largest["artist"]]).run()
    button(app, "Start fine-tuning").click().run()
    assert not app.exception and not app.error
    assert launched == [["train", "--init-from", str(parent), "--out",
                         str(page_env / "general-tuned"), "--artists", largest["artist"]]]
