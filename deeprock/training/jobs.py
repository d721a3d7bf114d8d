"""Background training for the app: one OS process per run, the run folder its only channel.

    run = start(defaults(gpu=False), "models/first")     # python -m deeprock.cli train ...
    job_state(run)      # starting | running | stopping | stopped | finished | failed
                        # | interrupted | exited
    stop(run); resume(run); delete(run)
    finetune("models/first", ["nirvana"], "models/first-nirvana")   # --init-from

Never a thread inside Streamlit: the trainer runs in its own session (start_new_session), so it
survives the page and the page survives it; its stdout/stderr go to the run's log.txt. The trainer
takes the machine's lock itself; until it does (TensorFlow takes seconds to import), a launch
record beside the lock keeps a second Start out. No Keras here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from deeprock.training import runs
from deeprock.training.commands import ARCH_DEFAULTS
from deeprock.training.config import RunConfig, TrainSettings
from deeprock.training.models import ModelSettings
from deeprock.training.split import DataSettings

LOG_TAIL_LINES = 12
ESTIMATE_TIMEOUT_SECONDS = 600
BUSY_STATES = ("starting", "running", "stopping")  # a process works on the run folder
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_children: dict[int, subprocess.Popen] = {}  # launched here, reaped when polled (no zombies)


class JobError(RuntimeError):
    """A job cannot start, stop or be deleted; the message says why in one sentence."""


@dataclass
class TrainRequest:
    """What the Train page's form asks for; `argv` turns it into `deeprock train` options."""

    catalog: str
    selection: str | None = None  # a saved selection file; None trains every guitar track
    arch: str = "deeprock"
    seq_len: int = 64
    unique_factor: int = 10
    epochs: int = 20
    batch_size: int = 64
    learning_rates: list[float] = field(default_factory=lambda: [0.005])
    units: int = 256
    layers: int = 2
    embedding: int = 64
    dropout: float = 0.3
    validation_share: float = 0.1
    min_count: int = 2
    augment_semitones: int = 0
    patience: int = 5
    max_minutes: float = 0.0

    def argv(self, out: str | os.PathLike) -> list[str]:
        data = ["--selection", self.selection] if self.selection else ["--no-selection"]
        return ["train", "--catalog", self.catalog, "--out", str(out), *data,
                "--arch", self.arch, "--seq-len", str(self.seq_len),
                "--unique-factor", str(self.unique_factor), "--epochs", str(self.epochs),
                "--batch-size", str(self.batch_size),
                "--lr", *(repr(rate) for rate in self.learning_rates),
                "--units", str(self.units), "--layers", str(self.layers),
                "--embedding", str(self.embedding), "--dropout", str(self.dropout),
                "--validation-share", str(self.validation_share),
                "--min-count", str(self.min_count), "--augment", str(self.augment_semitones),
                "--patience", str(self.patience), "--max-minutes", str(self.max_minutes)]


# Measured on the demo corpus, 2 busy cores (bench/RESULTS.md, "Training in the app"): at lr
# 0.002 deeprock needs 42 epochs (5.1 min) to beat the trigram, at 0.005 (now the trainer's
# default) 22 (3 min), reaching perplexity 8.0 against the trigram's 9.8 within 5 minutes.
CPU_DEEPROCK = {"epochs": 60, "max_minutes": 5.0}
GPU_DEEPROCK = {"units": 512, "layers": 3, "embedding": 128, "batch_size": 256, "seq_len": 128,
                "epochs": 50, "patience": 8}


def defaults(catalog: str = "data/demo.sqlite", gpu: bool = False,
             arch: str = "deeprock") -> TrainRequest:
    """The form's defaults. deeprock on a CPU: a useful model within 5 minutes; on a GPU: a
    wider, deeper network with bigger batches. The seed is the post's network, its defaults the
    post's (200 epochs on a GPU, where they are affordable)."""
    model, data, train = ModelSettings(), DataSettings(), TrainSettings()
    per_arch = ARCH_DEFAULTS[arch]
    request = TrainRequest(
        catalog=catalog, arch=arch, seq_len=per_arch["seq_len"],
        unique_factor=per_arch["unique_factor"], epochs=train.epochs,
        batch_size=train.batch_size, learning_rates=[per_arch["lr"]], units=model.units,
        layers=model.layers, embedding=model.embedding, dropout=model.dropout,
        validation_share=data.validation_share, min_count=data.min_count,
        augment_semitones=per_arch["augment"], patience=train.patience,
        max_minutes=train.max_minutes)
    if arch == "deeprock":
        return replace(request, **(GPU_DEEPROCK if gpu else CPU_DEEPROCK))
    return replace(request, epochs=200) if gpu else request


def models_root() -> Path:
    """Where runs live: models/, or $DEEPROCK_MODELS (tests, several checkouts)."""
    return Path(os.environ.get("DEEPROCK_MODELS", "models"))


def run_folder(name: str, root: Path | None = None) -> Path:
    """A new run's folder from a user-typed name: letters, digits, . _ - only (no paths)."""
    name = name.strip()
    if not RUN_NAME.match(name) or ".." in name:
        raise JobError(f"run name {name!r} is not usable: use letters, digits, '.', '_' or '-' "
                       "(at most 64, no slashes)")
    return (root or models_root()) / name


def pending_path() -> Path:
    """The launch record beside the trainer's lock: covers the seconds before it takes it."""
    return runs.lock_path().with_name(runs.lock_path().name + runs.LAUNCH_SUFFIX)


def active_job() -> dict | None:
    """{"pid", "run"} of the training that has this machine, or is about to take it."""
    _reap()
    holder = runs.active_training()
    if holder:
        return holder
    pending = runs.read_json(pending_path())
    return pending if _launched_alive(pending) else None


def _launched_alive(record: dict) -> bool:
    """The launched trainer still runs: its pid lives and (where /proc tells) is still ours, not
    a later process that got the same pid."""
    if not runs.pid_alive(record.get("pid")):
        return False
    try:
        command = Path(f"/proc/{record['pid']}/cmdline").read_bytes()
    except OSError:
        return True
    return is_trainer_command(command)


def is_trainer_command(command: bytes) -> bool:
    """A trainer's /proc cmdline. Empty is one in the middle of exec: the kernel sets the new
    command line after the launcher's Popen has returned, and calling that "exited" made the
    Train page stop polling a run it had just started (seen on a loaded machine)."""
    return b"deeprock" in command or not command


def _within(path: str | os.PathLike, folder: Path) -> bool:
    path = Path(path).resolve()
    return path == folder or folder in path.parents


def _refuse_if_busy() -> None:
    active = active_job()
    if active:
        raise JobError(f"training {active.get('run')} is running (pid {active.get('pid')}): "
                       "one training at a time on this machine; stop it or wait for it")


def _refuse_taken(out: Path) -> None:
    if (out / runs.CONFIG).exists() or (out / runs.STATUS).exists():
        raise JobError(f"{out} holds a run already: open it and resume it, or choose another "
                       "name")


def start(request: TrainRequest, out: str | os.PathLike) -> Path:
    """Launch a new run in `out` (refused when it holds a run already: resume that instead)."""
    out = Path(out)
    _refuse_taken(out)
    if not os.path.isfile(request.catalog):
        raise JobError(f"no catalog at {request.catalog}: scan a MIDI folder on the Home page "
                       "first")
    return _launch(request.argv(out), out)


def finetune(parent: str | os.PathLike, artists: list[str], out: str | os.PathLike) -> Path:
    """Launch `deeprock train --init-from parent` on the artists' songs (none: the parent's
    own data) into `out`, with finetune.py's rate, epochs and early stopping."""
    parent, out = Path(parent), Path(out)
    _refuse_taken(out)
    if not (parent / runs.BEST).is_file():
        raise JobError(f"{parent} has no {runs.BEST} yet: fine-tune a run after its first epoch")
    chosen = ["--artists", ",".join(artists)] if artists else []
    return _launch(["train", "--init-from", str(parent), "--out", str(out), *chosen], out)


def resume(run: str | os.PathLike, epochs: int | None = None) -> Path:
    """Continue a stopped or interrupted run from its last completed epoch with its settings,
    up to `epochs` (default: its own) and within what is left of its time budget; a sweep: its
    own command again, which skips the members already finished."""
    run = Path(run)
    if not (run / runs.CONFIG).exists() and runs.read_json(run / runs.JOB).get("argv"):
        return _launch(runs.read_json(run / runs.JOB)["argv"], run)
    try:
        RunConfig.load(run / runs.CONFIG)
    except ValueError as error:
        raise JobError(f"{run} cannot be resumed: {error}") from error
    # the trainer keeps the run's own epochs, patience and total time budget (what is left)
    more = ["--epochs", str(epochs)] if epochs else []
    return _launch(["train", "--out", str(run), "--resume", *more], run)


def sweep_members(run: str | os.PathLike) -> list[Path]:
    """The lr-*/ runs of a sweep folder, in the order they were trained."""
    members = [p for p in Path(run).glob(runs.MEMBER_PREFIX + "*") if (p / runs.STATUS).exists()]
    return sorted(members, key=lambda p: runs.read_json(p / runs.STATUS).get("started", 0))


def shown_folder(run: str | os.PathLike) -> Path:
    """The folder whose progress to show: the run, or the latest member of a sweep."""
    run = Path(run)
    members = sweep_members(run) if not (run / runs.STATUS).exists() else []
    return members[-1] if members else run


def _launch(argv: list[str], out: Path) -> Path:
    _refuse_if_busy()
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "deeprock.cli", *argv]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # log.txt shows each line as it comes
    with open(out / runs.LOG, "ab") as log:
        log.write(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
    _children[process.pid] = process
    record = {"pid": process.pid, "run": str(out), "started": time.time()}
    runs.write_json(pending_path(), record)
    runs.write_json(out / runs.JOB, {**record, "argv": argv})
    return out


def _reap() -> None:
    for pid, process in list(_children.items()):
        if process.poll() is not None:
            del _children[pid]


def job_state(run: str | os.PathLike, status: dict | None = None) -> str:
    """status.json's state (a sweep's: its latest member's while its process lives); "starting"
    from launch until the trainer writes its status, "stopping" from its "stopped" until its
    process is gone, "exited" when the process ended before any status (the log says why:
    usually refused arguments). status: read_status(shown_folder(run)) when the caller has it
    already (the page polls every 2 s: one read of status.json a poll)."""
    _reap()
    run = Path(run)
    status = runs.read_status(shown_folder(run)) if status is None else status
    launch = runs.read_json(run / runs.JOB)
    launched_alive = _launched_alive(launch)
    if launched_alive and launch.get("started", 0) > status.get("updated", 0):
        return "starting"
    if not status.get("state"):
        return "exited"
    if launched_alive and not (run / runs.STATUS).exists():
        return "running"  # a sweep between two members
    if launched_alive and status["state"] == "stopped":
        return "stopping"  # saved and marked, the process not yet gone: no Resume yet
    return status["state"]


def job_pid(run: Path) -> int | None:
    status = runs.read_json(shown_folder(run) / runs.STATUS)
    return status.get("pid") or runs.read_json(run / runs.JOB).get("pid")


def stop(run: str | os.PathLike) -> bool:
    """SIGTERM to the run's trainer: it abandons the current epoch, keeps the last completed
    one's checkpoint and marks the run stopped. False when it was not running."""
    run = Path(run)
    if job_state(run) not in ("running", "starting"):
        return False
    try:
        os.kill(job_pid(run), signal.SIGTERM)
    except (ProcessLookupError, TypeError):
        return False
    return True


def wait(run: str | os.PathLike, timeout_seconds: float = 60.0) -> str:
    """The run's state once its process has ended (or whatever it is at the deadline)."""
    deadline = time.monotonic() + timeout_seconds
    launched = runs.read_json(Path(run) / runs.JOB)
    while time.monotonic() < deadline and (job_state(run) in BUSY_STATES
                                           or _launched_alive(launched)):
        time.sleep(0.2)
    return job_state(run)


def log_tail(run: str | os.PathLike, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = (Path(run) / runs.LOG).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def delete(run: str | os.PathLike, root: Path | None = None) -> None:
    """Remove a run folder (or a sweep with its members); refused while any of it trains."""
    run, root = Path(run).resolve(), (root or models_root()).resolve()
    if root not in run.parents:
        raise JobError(f"{run} is not a run folder under {root}: not deleted")
    folders = [run, *(p.parent for p in run.glob("**/" + runs.CONFIG))]
    if not any((f / name).exists() for f in folders
               for name in (runs.CONFIG, runs.STATUS, runs.JOB)):
        raise JobError(f"{run} holds no run (no config.json or status.json): not deleted")
    active = active_job()
    if (active and _within(active.get("run", ""), run)) or any(
            job_state(folder) in BUSY_STATES for folder in folders):
        raise JobError(f"{run.name} is training now: stop it before deleting it")
    shutil.rmtree(run)


def estimate(request: TrainRequest) -> dict:
    """{"seconds_per_batch", "batches_per_epoch", "epoch_seconds", "device"} from the trainer's
    short measured warm-up (`--estimate --json`), in a scratch folder: no run is written."""
    with tempfile.TemporaryDirectory(prefix="deeprock-estimate-") as scratch:
        command = [sys.executable, "-m", "deeprock.cli",
                   *request.argv(Path(scratch) / "estimate"), "--estimate", "--json"]
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=ESTIMATE_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as error:
            raise JobError(f"the estimate took over {ESTIMATE_TIMEOUT_SECONDS} s") from error
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise JobError(f"the estimate failed: {reason}")
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError) as error:
        raise JobError(f"the estimate printed no JSON: {done.stdout[-200:]!r}") from error


def describe_estimate(found: dict, request: TrainRequest) -> str:
    """The estimate in a sentence: the epoch's time, and the whole job's for the epochs the
    time budget lets each run train (the trainer ends a run before an epoch that would pass
    it, after one epoch at least)."""
    epoch_seconds, epochs, budget = found["epoch_seconds"], request.epochs, ""
    if request.max_minutes and epoch_seconds > 0:
        within = max(1, int(request.max_minutes * 60 // epoch_seconds))
        if within < epochs:
            budget = (f" (the {request.max_minutes:g}-minute budget stops each run after "
                      f"{within} epochs)")
            epochs = within
    total_minutes = epoch_seconds * epochs * len(request.learning_rates) / 60
    return (f"About {epoch_seconds:.0f} s per epoch ({found['batches_per_epoch']} batches of "
            f"{found['seconds_per_batch'] * 1000:.0f} ms) on {found['device']}: {epochs} epochs "
            f"x {len(request.learning_rates)} rate(s){budget} ≈ {total_minutes:.1f} minutes.")


def gpu_available() -> bool:
    """Cheap and without TensorFlow: an NVIDIA GPU listed by nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return False
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def describe_devices() -> str:
    """deeprock.devices' description, computed in a child process: the page stays free of
    TensorFlow (it takes seconds to import and hundreds of MB)."""
    code = "from deeprock.devices import describe_devices; print(describe_devices())"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "device detection took over 2 minutes"
    lines = done.stdout.strip().splitlines()
    return lines[-1] if done.returncode == 0 and lines else "TensorFlow could not list devices"
