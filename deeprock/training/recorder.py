"""The callback that makes a run folder trustworthy: checkpoints, metrics, status, progress.

Per completed epoch, in this order: best.keras (when val_loss improved), last.keras, metrics.csv,
status.json — each written to a temporary file and renamed, so a kill -9 at any moment leaves the
previous epoch's files whole and loses at most the epoch in progress. A stop request or a
NaN/exploding loss raises out of `fit` at the next batch instead of finishing the epoch.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import keras

from deeprock.training import runs

EXPLODED_LOSS = 1e4  # cross-entropy starts near ln(vocabulary) < 10; far above is divergence


class StopRequested(Exception):
    """A graceful stop (SIGTERM or Stop on the Train page): the epoch in progress is abandoned."""


class TrainingFailed(Exception):
    """The loss became NaN or exploded: the message says what to try."""


def save_model(model, path: Path) -> None:
    """model.save to a temporary .keras beside the target, then rename: a full disk or a kill
    while saving leaves the previous file loadable."""
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class RunRecorder(keras.callbacks.Callback):
    def __init__(self, run: Path, batches, rows: list[dict], status: dict, epochs: int,
                 patience: int, max_seconds: float, tokens_per_window: int,
                 stop_flag: list[bool]) -> None:
        super().__init__()
        self.run, self.batches, self.rows, self.status = run, batches, rows, status
        self.epochs, self.patience, self.max_seconds = epochs, patience, max_seconds
        self.tokens_per_window, self.stop_flag = tokens_per_window, stop_flag
        self.finish_reason: str | None = None

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.batches.set_epoch(epoch)
        self.epoch, self.epoch_start, self.last_progress = epoch, time.monotonic(), 0.0
        self.epoch_cpu = time.process_time()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss) or loss > EXPLODED_LOSS:
            rate = self._learning_rate()
            raise TrainingFailed(
                f"the loss became {loss:g} at epoch {self.epoch + 1}, batch {batch + 1} with "
                f"learning rate {rate:g}: try a lower learning rate (e.g. {rate / 10:g}); "
                "the post's lesson: the learning rate decides everything")
        if self.stop_flag[0]:
            raise StopRequested
        now = time.monotonic()
        if now - self.last_progress >= 1.0:
            self.last_progress = now
            self._progress(batch + 1, now - self.epoch_start)

    def _progress(self, done: int, seconds: float) -> None:
        total = len(self.batches)
        rate = done * self.batches.batch_size / max(seconds, 1e-9)
        left_epochs = self.epochs - self.epoch - 1
        epoch_seconds = seconds * total / max(done, 1)
        runs.write_json(self.run / runs.PROGRESS, {
            "epoch": self.epoch + 1, "epochs": self.epochs, "batch": done, "batches": total,
            "samples_per_second": rate, "elapsed_seconds": seconds,
            "eta_seconds": epoch_seconds - seconds + left_epochs * epoch_seconds,
            "updated": time.time()})

    def _learning_rate(self) -> float:
        optimizer = self.model.optimizer
        rate = optimizer.learning_rate
        return float(keras.ops.convert_to_numpy(rate))

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = dict(logs or {})
        seconds = time.monotonic() - self.epoch_start
        val_loss = float(runs.monitored_loss(logs))
        if not math.isfinite(val_loss):
            raise TrainingFailed(f"the validation loss became {val_loss:g} at epoch {epoch + 1}:"
                                 " try a lower learning rate")
        samples = self.batches.windows
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in sorted(logs.items())},
               "lr": self._learning_rate(), "seconds": seconds,
               # on a shared machine the CPU time, not the wall clock, says what it cost
               "cpu_seconds": time.process_time() - self.epoch_cpu,
               "samples_per_second": samples / seconds,
               "tokens_per_second": samples * self.tokens_per_window / seconds}
        if runs.best_row([*self.rows, row]) is row:  # the rule every reader of the run uses
            save_model(self.model, self.run / runs.BEST)
            self.status.update(best_val_loss=val_loss, best_epoch=epoch + 1, wait=0)
        else:
            self.status["wait"] = self.status.get("wait", 0) + 1
        save_model(self.model, self.run / runs.LAST)
        self.rows.append(row)
        runs.write_metrics(self.run, self.rows)
        self.status.update(epoch=epoch + 1)
        self.status.update(runs.update_status(self.run, **self.status))
        self._maybe_finish(epoch, seconds)

    def _maybe_finish(self, epoch: int, seconds: float) -> None:
        elapsed = runs.seconds_used(self.rows)  # the budget is the run's, over every resume
        if self.patience and self.status["wait"] >= self.patience:
            self.finish_reason = (f"early stopping: no better val_loss for {self.patience} "
                                  f"epochs; best.keras holds epoch {self.status['best_epoch']}")
        elif self.max_seconds and elapsed + seconds > self.max_seconds and epoch + 1 < self.epochs:
            self.finish_reason = (f"time budget of {self.max_seconds / 60:g} minutes reached "
                                  f"after epoch {epoch + 1}")
        if self.finish_reason:
            self.model.stop_training = True
