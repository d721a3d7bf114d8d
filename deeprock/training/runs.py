"""The run folder, read and written (DESIGN.md's contract with evaluation, generation, pages).

    models/NAME/  config.json vocab.json metrics.csv status.json progress.json best.keras
                  last.keras log.txt baselines.json   [sweep.json, lr-*/ for a sweep]

No Keras here: the pages list and poll runs without loading TensorFlow.
status.json "state": running | finished | stopped | failed; a "running" run whose process is gone
reads as "interrupted" (`read_status`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from deeprock.atomic import write_atomic

CONFIG, VOCAB, METRICS, STATUS = "config.json", "vocab.json", "metrics.csv", "status.json"
PROGRESS, BEST, LAST, LOG = "progress.json", "best.keras", "last.keras", "log.txt"
BASELINES, SWEEP = "baselines.json", "sweep.json"
STATES = ("running", "finished", "stopped", "failed", "interrupted")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return True


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True))


def read_status(run: Path) -> dict:
    """status.json, with "interrupted" for a running run whose process is gone."""
    status = read_json(Path(run) / STATUS)
    if status.get("state") == "running" and not pid_alive(status.get("pid")):
        status = {**status, "state": "interrupted",
                  "reason": "the training process ended without saying why (killed?): "
                            "Resume continues from the last completed epoch"}
    return status


def update_status(run: Path, **changes) -> dict:
    status = {**read_json(Path(run) / STATUS), **changes, "updated": time.time()}
    write_json(Path(run) / STATUS, status)
    return status


def read_metrics(run: Path) -> list[dict]:
    """metrics.csv rows with numbers as floats (epoch as int)."""
    try:
        text = (Path(run) / METRICS).read_text(encoding="utf-8")
    except OSError:
        return []
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append({k: (int(v) if k == "epoch" else _number(v)) for k, v in row.items()})
    return rows


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def write_metrics(run: Path, rows: list[dict]) -> None:
    """The whole file each epoch (a few KB), atomically: never a half row, never a row twice."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(Path(run) / METRICS, buffer.getvalue())


@dataclass
class RunSummary:
    """One row of the runs table."""

    name: str
    path: Path
    arch: str
    state: str
    epochs: int
    best_val_loss: float
    perplexity: float
    minutes: float
    device: str
    size_mb: float
    started: float

    @property
    def has_model(self) -> bool:
        return (self.path / BEST).is_file()


def summarize(run: Path, root: Path) -> RunSummary:
    config, status, metrics = read_json(run / CONFIG), read_status(run), read_metrics(run)
    best = min((r.get("val_loss", math.nan) for r in metrics), default=math.nan,
               key=lambda v: v if not math.isnan(v) else math.inf)
    token_losses = [r.get("val_next_token_loss", r.get("val_loss", math.nan)) for r in metrics]
    best_token = min((v for v in token_losses if not math.isnan(v)), default=math.nan)
    size = sum(p.stat().st_size for p in run.glob("*.keras"))
    return RunSummary(
        name=str(run.relative_to(root)), path=run, arch=config.get("model", {}).get("arch", "?"),
        state=status.get("state", "unknown"), epochs=len(metrics), best_val_loss=best,
        perplexity=math.exp(best_token) if not math.isnan(best_token) else math.nan,
        minutes=sum(r.get("seconds", 0.0) for r in metrics) / 60,
        device=config.get("facts", {}).get("device", "?"), size_mb=size / 1e6,
        started=status.get("started", 0.0))


def list_runs(root: str | os.PathLike = "models") -> list[RunSummary]:
    """Every run folder under root (sweep members included), newest first."""
    root = Path(root)
    runs = [p.parent for p in root.glob("**/" + CONFIG)]
    return sorted((summarize(run, root) for run in runs), key=lambda r: -r.started)


def lock_path() -> Path:
    import tempfile

    return Path(os.environ.get("DEEPROCK_TRAIN_LOCK")
                or Path(tempfile.gettempdir()) / "deeprock-training.lock")


def active_training() -> dict | None:
    """{"pid", "run"} of the training that holds this machine's lock, None when free."""
    holder = read_json(lock_path())
    return holder if pid_alive(holder.get("pid")) else None


class TrainingBusy(RuntimeError):
    """Another training holds the machine's lock."""


def acquire_lock(run: Path) -> None:
    """One training per machine: create the lock file exclusively; a dead holder's is taken."""
    path = lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = active_training()
            if holder:
                raise TrainingBusy(f"training {holder.get('run')} is running (pid "
                                   f"{holder['pid']}): stop it or wait for it") from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump({"pid": os.getpid(), "run": str(run)}, handle)
        return
    raise TrainingBusy(f"cannot take the training lock {path}")


def release_lock() -> None:
    if read_json(lock_path()).get("pid") == os.getpid():
        lock_path().unlink(missing_ok=True)
