"""Background training jobs: a real tiny training subprocess started, stopped and resumed; the
machine lock; launch failures; sweeps; deleting run folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deeprock.cli import _parser
from deeprock.corpus import demo
from deeprock.corpus.scan import scan
from deeprock.training import jobs, runs
from deeprock.training.commands import ARCH_DEFAULTS, config_from_args

ROOT = Path(__file__).resolve().parents[1]
TINY = {"units": 16, "embedding": 8, "seq_len": 16, "layers": 1, "patience": 0}


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("demo")
    demo.generate(folder, files=20, seed=1)
    catalog = folder.parent / "catalog.sqlite"
    scan([str(folder)], str(catalog), jobs=1)
    return str(catalog)


@pytest.fixture
def job_env(tmp_path, monkeypatch) -> Path:
    """Runs and the machine lock in tmp_path; any training left running is stopped after."""
    monkeypatch.setenv("DEEPROCK_TRAIN_LOCK", str(tmp_path / "train.lock"))
    monkeypatch.setenv("DEEPROCK_MODELS", str(tmp_path / "models"))
    yield tmp_path / "models"
    active = jobs.active_job()
    if active:
        os.kill(active["pid"], 15)
        jobs.wait(active["run"], 60)


def wait_for(condition, seconds: float = 90.0, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_request_options_are_the_trainers(tmp_path):
    request = jobs.TrainRequest(catalog="c.sqlite", arch="seed", seq_len=40, unique_factor=7,
                                epochs=3, batch_size=32, learning_rates=[0.01, 0.0001],
                                units=48, layers=3, embedding=24, dropout=0.25,
                                validation_share=0.2, min_count=3, augment_semitones=2,
                                patience=4, max_minutes=7.5, selection="s.json")
    config = config_from_args(_parser().parse_args(request.argv(tmp_path / "run")))
    assert (config.model.arch, config.model.units, config.model.layers) == ("seed", 48, 3)
    assert (config.model.embedding, config.model.dropout) == (24, 0.25)
    assert config.model.learning_rate == 0.01
    assert (config.data.seq_len, config.data.unique_factor, config.data.min_count) == (40, 7, 3)
    assert config.data.validation_share == 0.2
    assert (config.train.epochs, config.train.batch_size, config.train.patience) == (3, 32, 4)
    assert (config.train.max_minutes, config.train.augment_semitones) == (7.5, 2)
    assert config.selection == "s.json"
    whole = jobs.TrainRequest(catalog="c.sqlite").argv(tmp_path / "run")
    assert "--no-selection" in whole


def test_defaults_follow_the_architecture_and_the_device():
    cpu, gpu = jobs.defaults("c.sqlite"), jobs.defaults("c.sqlite", gpu=True)
    assert gpu.units > cpu.units and gpu.batch_size > cpu.batch_size
    assert cpu.max_minutes == 5 and gpu.max_minutes == 0  # a useful model in 5 CPU minutes
    seed = jobs.defaults("c.sqlite", arch="seed")
    assert (seed.seq_len, seed.unique_factor) == (100, 13)  # the post's


def test_resume_keeps_the_runs_epochs_budget_and_patience(tmp_path, capsys, monkeypatch):
    """`--resume` without options continues with the run's own values (before: argparse's
    defaults, so a 4-epoch run resumed trained 20) and says what it continues with."""
    from deeprock.training import train
    from deeprock.training.config import RunConfig, TrainSettings

    run = tmp_path / "run"
    RunConfig(catalog="c.sqlite", train=TrainSettings(epochs=4, patience=2, max_minutes=3.0)
              ).save(run / runs.CONFIG)
    runs.write_metrics(run, [{"epoch": 1, "val_loss": 4.0, "seconds": 60.0},
                             {"epoch": 2, "val_loss": 3.0, "seconds": 60.0}])
    kept = config_from_args(_parser().parse_args(["train", "--out", str(run), "--resume"]))
    assert (kept.train.epochs, kept.train.patience, kept.train.max_minutes) == (4, 2, 3.0)
    more = config_from_args(_parser().parse_args(["train", "--out", str(run), "--resume",
                                                  "--epochs", "6", "--max-minutes", "0"]))
    assert (more.train.epochs, more.train.patience, more.train.max_minutes) == (6, 2, 0.0)
    fresh = config_from_args(_parser().parse_args(["train", "--catalog", "c.sqlite", "--out",
                                                   str(tmp_path / "new")]))
    # a new run: the defaults (deeprock's transposition)
    assert fresh.train == TrainSettings(augment_semitones=ARCH_DEFAULTS["deeprock"]["augment"])
    asked = []
    monkeypatch.setattr(train, "train_run", lambda config, *rest: asked.append(config) or {})
    monkeypatch.setattr(train, "catch_stop_requests", lambda: None)  # pytest keeps its SIGTERM
    from deeprock.cli import main

    assert main(["train", "--out", str(run), "--resume"]) == 0
    assert asked[0].train.epochs == 4
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{run}: continuing from epoch 2 to 4 epochs, early stopping after 2 epochs without "
        "progress, 1.0 of the 3-minute time budget left")


def test_resume_launches_the_trainer_without_overriding_the_run(tmp_path, job_env,
                                                               monkeypatch):
    from deeprock.training.config import RunConfig

    run = job_env / "paused"
    RunConfig(catalog="c.sqlite").save(run / runs.CONFIG)
    launched = []
    monkeypatch.setattr(jobs, "_launch", lambda argv, out: launched.append(argv) or out)
    jobs.resume(run)
    jobs.resume(run, epochs=9)
    assert launched == [["train", "--out", str(run), "--resume"],
                        ["train", "--out", str(run), "--resume", "--epochs", "9"]]


def test_start_stop_resume_a_real_training(small_catalog, job_env):
    request = jobs.TrainRequest(catalog=small_catalog, epochs=300, **TINY)
    run = jobs.start(request, job_env / "tiny")
    assert jobs.job_state(run) in ("starting", "running")
    assert jobs.active_job()["run"] == str(run)
    with pytest.raises(jobs.JobError, match="tiny is running"):
        jobs.start(request, job_env / "second")
    with pytest.raises(jobs.JobError, match="is training now"):
        jobs.delete(run, job_env)
    wait_for(lambda: runs.read_status(run).get("epoch", 0) >= 1, what="a completed epoch")
    assert runs.active_training()["run"] == str(run)  # the trainer holds the lock itself
    assert jobs.stop(run)
    assert jobs.wait(run, 60) == "stopped"
    assert jobs.active_job() is None
    done = runs.read_status(run)["epoch"]
    assert [row["epoch"] for row in runs.read_metrics(run)] == list(range(1, done + 1))

    jobs.resume(run, epochs=done + 1)
    assert jobs.job_state(run) == "starting"  # before the trainer has rewritten status.json
    assert jobs.wait(run, 90) == "finished"
    assert [row["epoch"] for row in runs.read_metrics(run)] == list(range(1, done + 2))
    log = (run / runs.LOG).read_text()
    launches = [line for line in log.splitlines() if line.startswith("== ")]
    assert len(launches) == 2 and "--resume" in launches[1]
    assert jobs.stop(run) is False
    jobs.delete(run, job_env)
    assert not run.exists()


def test_refused_arguments_show_as_exited_with_the_log(small_catalog, job_env):
    run = jobs.start(jobs.TrainRequest(catalog=small_catalog, seq_len=1), job_env / "bad")
    assert jobs.wait(run, 30) == "exited"
    assert "--seq-len must be at least 2" in jobs.log_tail(run)
    assert jobs.active_job() is None


def test_start_refuses_existing_runs_missing_catalogs_and_bad_names(small_catalog, job_env):
    (job_env / "old").mkdir(parents=True)
    (job_env / "old" / runs.CONFIG).write_text("{}")
    with pytest.raises(jobs.JobError, match="holds a run already"):
        jobs.start(jobs.TrainRequest(catalog=small_catalog), job_env / "old")
    with pytest.raises(jobs.JobError, match="no catalog at"):
        jobs.start(jobs.TrainRequest(catalog=str(job_env / "gone.sqlite")), job_env / "new")
    for name in ("../escape", "a/b", "", ".hidden", "x" * 65):
        with pytest.raises(jobs.JobError, match="not usable"):
            jobs.run_folder(name, job_env)
    assert jobs.run_folder(" lr-0.01_v2 ", job_env) == job_env / "lr-0.01_v2"


def test_resume_refuses_a_run_of_a_newer_format(job_env):
    run = job_env / "future"
    run.mkdir(parents=True)
    runs.write_json(run / runs.CONFIG, {"format": 99})
    with pytest.raises(jobs.JobError, match=r"cannot be resumed.*newer"):
        jobs.resume(run)
    assert not (run / runs.JOB).exists()


def sleeper(*marker: str) -> subprocess.Popen:
    """A live process standing in for a trainer (its command line names deeprock) or for an
    unrelated process that got a dead trainer's pid."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", *marker])


def test_a_launch_record_holds_the_machine_until_the_trainer_locks_it(small_catalog, job_env):
    trainer, stranger = sleeper("deeprock.cli"), sleeper()
    try:
        runs.write_json(jobs.pending_path(), {"pid": stranger.pid, "run": "models/reused"})
        assert jobs.active_job() is None  # a pid reused by another program holds nothing
        runs.write_json(jobs.pending_path(), {"pid": trainer.pid, "run": "models/early"})
        assert jobs.active_job()["run"] == "models/early"
        with pytest.raises(jobs.JobError, match="models/early is running"):
            jobs.start(jobs.TrainRequest(catalog=small_catalog), job_env / "late")
    finally:
        for process in (trainer, stranger):
            process.kill()
            process.wait()
    assert jobs.active_job() is None


def fake_run(folder: Path, state: str, pid: int | None = None, started: float = 1.0) -> Path:
    folder.mkdir(parents=True)
    runs.write_json(folder / runs.CONFIG, {"format": 1})
    runs.write_json(folder / runs.STATUS, {"state": state, "pid": pid, "started": started,
                                           "updated": started})
    return folder


def test_a_sweep_shows_its_latest_member(job_env):
    sweep = job_env / "sweep"
    fake_run(sweep / "lr-0.01", "finished", started=1.0)
    fake_run(sweep / "lr-0.001", "running", pid=2**22 + 7, started=2.0)  # no such process
    assert jobs.shown_folder(sweep) == sweep / "lr-0.001"
    assert jobs.job_state(sweep) == "interrupted"
    trainer = sleeper("deeprock.cli")
    try:
        runs.write_json(sweep / runs.JOB, {"pid": trainer.pid, "started": 0.5,
                                           "argv": ["train", "--lr", "0.01", "0.001"]})
        runs.write_json(sweep / "lr-0.001" / runs.STATUS, {"state": "finished", "updated": 3.0,
                                                           "started": 2.0})
        assert jobs.job_state(sweep) == "running"  # between two members of a live sweep
    finally:
        trainer.kill()
        trainer.wait()
    assert jobs.job_state(sweep) == "finished"


def test_delete_only_whole_run_folders_that_do_not_train(job_env, tmp_path):
    finished = fake_run(job_env / "done", "finished")
    running = fake_run(job_env / "busy", "running", pid=os.getpid())
    (job_env / "plain").mkdir()
    outside = fake_run(tmp_path / "elsewhere", "finished")
    with pytest.raises(jobs.JobError, match="busy is training now"):
        jobs.delete(running, job_env)
    with pytest.raises(jobs.JobError, match="holds no run"):
        jobs.delete(job_env / "plain", job_env)
    with pytest.raises(jobs.JobError, match="not a run folder under"):
        jobs.delete(outside, job_env)
    with pytest.raises(jobs.JobError, match="not a run folder under"):
        jobs.delete(job_env, job_env)
    jobs.delete(finished, job_env)
    assert not finished.exists() and running.exists() and outside.exists()


def test_the_page_side_never_imports_tensorflow():
    code = ("import sys; import deeprock.training.jobs, deeprock.training.charts, "
            "deeprock.training.runs; "
            "print(json.dumps([m for m in ('tensorflow', 'keras', 'jax', 'torch') "
            "if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", "import json; " + code], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_a_trainer_in_the_middle_of_exec_counts_as_one():
    """Right after Popen returns, the child's /proc cmdline can still be empty (the kernel
    writes it late in exec): that is our trainer starting, not another program."""
    assert jobs.is_trainer_command(b"")
    assert jobs.is_trainer_command(b"/venv/bin/python\x00-m\x00deeprock.cli\x00train\x00")
    assert not jobs.is_trainer_command(b"sleep\x0030\x00")
