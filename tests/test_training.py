"""Training runs end to end: the networks, resume after kill -9, stop, sweeps, NaN, the lock,
the run folder's guards, evaluation. Tiny models on a small demo catalog."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from deeprock.cli import main
from deeprock.training import runs
from tests.training_fixtures import (
    deeprock_command,
    demo_catalog,
    json_output,
    train_command,
)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    return demo_catalog(tmp_path_factory.mktemp("training"))


@pytest.fixture
def lock(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "train.lock"
    monkeypatch.setenv("DEEPROCK_TRAIN_LOCK", str(path))
    return path


@pytest.fixture
def cli(lock, capsys):
    """`deeprock ARGS` (a deeprock_command list) run in this process, as subprocess.run reports
    it: TensorFlow loads once for the module, not once a command (a fifth of the suite's time).
    What needs a process of its own (killed, sent SIGTERM, holding the lock) uses _start."""
    def run(args: list[str]) -> subprocess.CompletedProcess:
        assert args[:3] == deeprock_command()
        handler = signal.getsignal(signal.SIGTERM)  # train catches it to stop cleanly
        capsys.readouterr()
        try:
            code = main(args[3:])
        finally:
            signal.signal(signal.SIGTERM, handler)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)
    return run


def test_seed_network_is_the_posts(tmp_path):
    import keras

    from deeprock.training.models import ModelSettings, build_model, load_model

    model = build_model(ModelSettings(arch="seed", learning_rate=0.01), 300, seq_len=100,
                        id_mean=150.0, id_std=80.0)
    kinds = [(type(layer).__name__, getattr(layer, "units", None)) for layer in model.layers]
    assert kinds == [("InputLayer", None), ("Normalization", None), ("LSTM", 256),
                     ("Dropout", None), ("LSTM", 256), ("Dense", 128), ("Dropout", None),
                     ("Dense", 300)]
    assert model.input_shape == (None, 100, 1) and model.output_shape == (None, 300)
    assert model.layers[2].return_sequences and not model.layers[4].return_sequences
    assert [model.layers[i].rate for i in (3, 6)] == [0.3, 0.3]
    schedule = model.optimizer.learning_rate
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert (optimizer.beta_1, optimizer.beta_2) == (0.9, 0.999)
    assert model.loss == "sparse_categorical_crossentropy"
    decay = optimizer._learning_rate
    assert float(decay(0)) == pytest.approx(0.01)
    assert float(decay(100)) == pytest.approx(0.01 / (1 + 0.01 * 100))
    assert float(schedule) == pytest.approx(0.01)
    scaled = model.layers[1](np.array([[[150.0], [230.0]]], dtype="float32"))
    assert np.asarray(scaled).ravel() == pytest.approx([0.0, 1.0], abs=1e-5)
    model.save(tmp_path / "seed.keras")
    assert load_model(str(tmp_path / "seed.keras")).count_params() == model.count_params()


def test_deeprock_network_heads_and_safe_mode(tmp_path):
    import keras

    from deeprock.training.models import ModelSettings, build_model, load_model

    model = build_model(ModelSettings(units=16, layers=3, embedding=8), 50)
    names = {layer.name for layer in model.layers}
    assert {"lstm_0", "lstm_1", "lstm_2", "next_token", "next_delta", "next_duration"} <= names
    assert all(model.get_layer(f"lstm_{i}").use_cudnn == "auto" for i in range(3))
    assert all(model.get_layer(f"lstm_{i}").recurrent_dropout == 0 for i in range(3))
    model.save(tmp_path / "m.keras")
    assert load_model(str(tmp_path / "m.keras")).count_params() == model.count_params()
    inputs = keras.Input((2,))
    unsafe = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    unsafe.save(tmp_path / "unsafe.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(str(tmp_path / "unsafe.keras"))


def _wait_for_epochs(run: Path, epochs: int, process: subprocess.Popen, seconds=240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if runs.read_json(run / runs.STATUS).get("epoch", 0) >= epochs:
            return
        assert process.poll() is None, process.communicate()[1][-2000:]
        time.sleep(0.2)
    pytest.fail(f"no epoch {epochs} in {seconds} s")


def _start(catalog: Path, run: Path, lock: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "DEEPROCK_TRAIN_LOCK": str(lock), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(train_command(catalog, run, "--stride", "6", *extra), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_resume_after_kill_continues_without_an_epoch_twice(catalog, tmp_path, lock, cli):
    from deeprock.training.models import load_model

    run = tmp_path / "run"
    process = _start(catalog, run, lock, "--epochs", "30", "--patience", "0")
    _wait_for_epochs(run, 2, process)
    process.kill()
    process.wait()
    assert runs.read_status(run)["state"] == "interrupted"
    done = runs.read_json(run / runs.STATUS)["epoch"]
    result = json_output(cli(train_command(catalog, run, "--stride", "6", "--epochs",
                                               str(done + 2), "--patience", "0", "--json")))
    assert result["state"] == "finished"
    rows = runs.read_metrics(run)
    assert [row["epoch"] for row in rows] == list(range(1, done + 3))
    windows = [round(row["samples_per_second"] * row["seconds"]) for row in rows]
    model = load_model(str(run / runs.LAST))
    # the optimizer counted every batch of every epoch: the resumed run went on from epoch done
    assert int(model.optimizer.iterations) == sum(-(-w // 32) for w in windows)


def test_sigterm_stops_gracefully_and_resume_finishes(catalog, tmp_path, lock, cli):
    run = tmp_path / "run"
    process = _start(catalog, run, lock, "--epochs", "40", "--patience", "0")
    _wait_for_epochs(run, 1, process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0
    status = runs.read_status(run)
    assert status["state"] == "stopped" and "Resume" in status["reason"]
    kept = status["epoch"]
    assert [r["epoch"] for r in runs.read_metrics(run)] == list(range(1, kept + 1))
    result = json_output(cli(deeprock_command("train", "--out", str(run), "--resume",
                                                  "--epochs", str(kept + 1), "--json")))
    assert result["state"] == "finished" and result["epochs"] == kept + 1


def test_the_time_budget_is_the_runs_total_over_resumes(catalog, tmp_path, lock, cli):
    """A resume continues with what is left of the budget (before: a fresh budget each time)."""
    run = tmp_path / "run"
    json_output(cli(train_command(catalog, run, "--stride", "6", "--epochs", "1",
                                      "--max-minutes", "2", "--patience", "0", "--json")))
    rows = runs.read_metrics(run)
    runs.write_metrics(run, [{**rows[0], "seconds": 150.0}])  # as if its epoch took 2.5 min
    runs.update_status(run, state="stopped")
    done = cli(deeprock_command("train", "--out", str(run), "--resume", "--epochs", "4",
                                    "--json"))
    assert "continuing from epoch 1 to 4 epochs, no early stopping, 0.0 of the 2-minute " \
           "time budget left" in done.stderr
    result = json_output(done)
    assert result["epochs"] == 1 and result["state"] == "finished"
    assert result["reason"] == "time budget of 2 minutes already used by 1 epochs"


def test_estimate_times_batches_from_token_files_and_writes_no_run(catalog, tmp_path, cli,
                                                                     monkeypatch):
    from deeprock.training import train

    def in_memory(config):
        raise AssertionError("the estimate built the data in memory")

    monkeypatch.setattr(train, "load_data", in_memory)
    done = cli(train_command(catalog, tmp_path / "estimate", "--estimate", "--json"))
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["seconds_per_batch"] > 0 and found["batches_per_epoch"] > 0
    assert found["epoch_seconds"] == pytest.approx(found["seconds_per_batch"]
                                                   * found["batches_per_epoch"])
    assert not (tmp_path / "estimate").exists()


def test_the_recorder_counts_the_epochs_of_earlier_sessions_against_the_budget(tmp_path):
    from deeprock.training.recorder import RunRecorder

    class Model:
        stop_training = False

    earlier = [{"epoch": 1, "seconds": 100.0}, {"epoch": 2, "seconds": 100.0}]
    recorder = RunRecorder(tmp_path, None, earlier, {"wait": 0}, epochs=10, patience=0,
                           max_seconds=250.0, tokens_per_window=16, stop_flag=[False])
    recorder.set_model(Model())
    recorder._maybe_finish(epoch=1, seconds=100.0)  # 200 s used: a third epoch would pass 250
    assert recorder.finish_reason == "time budget of 4.16667 minutes reached after epoch 2"
    assert recorder.model.stop_training


def test_sweep_gives_one_run_per_rate_and_a_summary(catalog, tmp_path, lock, cli):
    out = tmp_path / "sweep"
    result = json_output(cli(train_command(catalog, out, "--epochs", "1", "--lr", "0.01",
                                               "0.001", "--json")))
    assert [r["lr"] for r in result["sweep"]] == [0.01, 0.001]
    summary = json.loads((out / "sweep.json").read_text())
    assert [r["lr"] for r in summary["rates"]] == [0.01, 0.001]
    for rate in ("0.01", "0.001"):
        config = json.loads((out / f"lr-{rate}" / "config.json").read_text())
        assert config["model"]["learning_rate"] == float(rate)
        assert (out / f"lr-{rate}" / "best.keras").is_file()


def test_nan_loss_fails_the_run_with_advice(catalog, tmp_path, lock, cli):
    run = tmp_path / "nan"
    result = cli(train_command(catalog, run, "--epochs", "3", "--lr", "1e38", "--json"))
    assert result.returncode == 1, result.stderr[-2000:]
    status = runs.read_status(run)
    assert status["state"] == "failed" and "lower learning rate" in status["reason"]


def test_one_training_per_machine(tmp_path, lock):
    runs.acquire_lock(tmp_path / "a")
    try:
        with pytest.raises(runs.TrainingBusy, match="is running"):
            runs.acquire_lock(tmp_path / "b")
        assert runs.active_training()["run"] == str(tmp_path / "a")
    finally:
        runs.release_lock()
    lock.write_text(json.dumps({"pid": 2 ** 22 + 17, "run": "dead"}))  # a dead holder
    runs.acquire_lock(tmp_path / "c")
    runs.release_lock()
    assert runs.active_training() is None


def test_second_start_is_refused_while_one_trains(catalog, tmp_path, lock, cli):
    first = _start(catalog, tmp_path / "first", lock, "--epochs", "40", "--patience", "0")
    try:
        _wait_for_epochs(tmp_path / "first", 1, first)
        second = cli(train_command(catalog, tmp_path / "second", "--epochs", "1"))
        assert second.returncode == 2 and "first" in second.stderr
        assert "is running" in second.stderr
    finally:
        first.kill()
        first.wait()


def test_folder_guards_and_evaluate(catalog, tmp_path, lock, cli):
    run = tmp_path / "run"
    json_output(cli(train_command(catalog, run, "--epochs", "1", "--json")))
    other = cli(train_command(catalog, run, "--epochs", "1", "--units", "24"))
    assert other.returncode == 2 and "other settings" in other.stderr and "units" in other.stderr
    evaluation = json_output(cli(deeprock_command(
        "evaluate", "--model", str(run), "--catalog", str(catalog), "--json")))
    assert {"windows", "loss", "accuracy", "perplexity", "unk_share"} <= set(evaluation)
    assert evaluation["windows"] > 0 and 0 <= evaluation["unk_share"] < 1
    assert evaluation["perplexity"] == pytest.approx(np.exp(evaluation["loss"]))
    assert set(evaluation["heads"]) == {"next_token", "next_delta", "next_duration"}
    assert evaluation["baselines"]["trigram_perplexity"] > 1
    assert evaluation["best_epoch"] == runs.read_status(run)["best_epoch"] == runs.summarize(
        run, tmp_path).best_epoch == 1
    held_out = json_output(cli(deeprock_command(
        "evaluate", "--model", str(run), "--catalog", str(catalog), "--held-out", "--targets",
        "last", "--json")))
    facts = json.loads((run / "config.json").read_text())["facts"]
    assert held_out["windows"] == held_out["targets"] == facts["validation_windows"] > 0
    split = runs.read_run(run).split  # the very tracks trained on, by name
    assert (len(split.train_tracks), len(split.validation_tracks)) == (
        facts["train_tracks"], facts["validation_tracks"])
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "format": 99}))
    newer = cli(train_command(catalog, run, "--epochs", "1"))
    assert newer.returncode == 2 and "newer" in newer.stderr
    (run / "best.keras").unlink()
    missing = cli(deeprock_command("evaluate", "--model", str(run), "--catalog",
                                       str(catalog)))
    assert missing.returncode == 2 and "best.keras" in missing.stderr


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path):
    from deeprock.training.recorder import save_model

    class Model:
        def __init__(self, content: bytes, fail: bool) -> None:
            self.content, self.fail = content, fail

        def save(self, path) -> None:
            Path(path).write_bytes(self.content)
            if self.fail:
                raise OSError(28, "No space left on device")

    target = tmp_path / "best.keras"
    save_model(Model(b"epoch 1", fail=False), target)
    with pytest.raises(OSError, match="No space"):
        save_model(Model(b"half of epoch 2", fail=True), target)
    assert target.read_bytes() == b"epoch 1" and os.listdir(tmp_path) == ["best.keras"]


def test_one_best_epoch_for_checkpoint_status_runs_table_and_panel(tmp_path):
    """best.keras, status.json, the runs table and the evaluation panel name one epoch, on
    losses where the old rules differed: the lowest next-token loss at another epoch than the
    lowest val_loss, a tie, early stopping, and a NaN row read back from metrics.csv."""
    import math
    from types import SimpleNamespace

    from deeprock.training import charts
    from deeprock.training.recorder import RunRecorder

    class Model:  # a checkpoint holds the number of the epoch it was saved at
        stop_training, epoch = False, 0
        optimizer = SimpleNamespace(learning_rate=0.01)

        def save(self, path) -> None:
            Path(path).write_text(str(self.epoch))

    batches = SimpleNamespace(windows=64, batch_size=32, set_epoch=lambda epoch: None)
    run, status = tmp_path / "run", {}
    run.mkdir()
    recorder = RunRecorder(run, batches, [], status, epochs=10, patience=2, max_seconds=0,
                           tokens_per_window=16, stop_flag=[False])
    model = Model()
    recorder.set_model(model)
    # (val_loss, val_next_token_loss): epoch 2 is best, epoch 3 has the lowest next-token
    # loss, epoch 4 ties epoch 2 and is the second epoch without improvement: early stop
    for epoch, (loss, token) in enumerate([(3.0, 2.0), (2.0, 1.5), (2.5, 1.0), (2.0, 1.2)]):
        model.epoch = epoch + 1
        recorder.on_epoch_begin(epoch)
        recorder.on_epoch_end(epoch, {"loss": 4.0, "val_loss": loss,
                                      "val_next_token_loss": token,
                                      "val_next_token_accuracy": 0.1 * epoch})
    assert model.stop_training and "holds epoch 2" in recorder.finish_reason
    runs.write_metrics(run, [*runs.read_metrics(run), {"epoch": 5, "loss": 3.0}])  # NaN cells
    metrics = runs.read_metrics(run)
    assert math.isnan(metrics[-1]["val_loss"])
    summary = runs.summarize(run, tmp_path)
    assert (run / runs.BEST).read_text() == "2" == str(runs.read_status(run)["best_epoch"])
    assert summary.best_epoch == runs.best_row(metrics)["epoch"] == 2
    assert summary.best_val_loss == 2.0 and summary.perplexity == pytest.approx(math.exp(1.5))
    scores = charts.head_scores(metrics)
    assert scores["next_token"].perplexity == summary.perplexity
    assert scores["next_token"].accuracy == pytest.approx(0.1)


def test_two_jax_workers_train_one_model(catalog, tmp_path, lock):
    """Multi-machine data parallelism (Keras 3 on JAX), as two local processes on 127.0.0.1:
    both finish with the same losses, worker 1's files in a scratch folder of the run."""
    pytest.importorskip("jax")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = tmp_path / "run"
    processes = []
    for index in (0, 1):
        env = {**os.environ, "KERAS_BACKEND": "jax", "DEEPROCK_TRAIN_LOCK": str(lock),
               "DEEPROCK_COORDINATOR": f"127.0.0.1:{port}", "DEEPROCK_WORKERS": "2",
               "DEEPROCK_WORKER_INDEX": str(index)}
        # a hung JAX process ignores SIGTERM: supervise with SIGKILL (timeout -k)
        processes.append(subprocess.Popen(
            ["timeout", "-k", "5", "500", *train_command(catalog, run, "--epochs", "1",
                                                        "--distribute", "multiworker")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    ended = [(process.wait(), process.communicate()[1]) for process in processes]
    assert [code for code, _ in ended] == [0, 0], "\n".join(
        f"worker {index}: {err[-3000:]}" for index, (_, err) in enumerate(ended))
    first, second = runs.read_metrics(run), runs.read_metrics(run / ".worker-1")
    assert len(first) == 1 and first[0]["val_loss"] == pytest.approx(second[0]["val_loss"])
    assert json.loads((run / "config.json").read_text())["facts"]["backend"] == "jax"


def test_batches_feed_bar_positions_and_transposition_keeps_them(catalog):
    from deeprock.corpus.catalog import Catalog
    from deeprock.training.config import RunConfig
    from deeprock.training.models import ModelSettings, build_model
    from deeprock.training.split import DataSettings, build_training_data
    from deeprock.training.train import training_batches
    from deeprock.training.vocab import position_classes

    with Catalog(catalog) as opened:
        data = build_training_data(opened, DataSettings(seq_len=16, unique_factor=2))
        streams = list(opened.streams())
    expected = position_classes(np.concatenate([s.position for s in streams]))
    assert len(expected) == data.train.tokens + data.validation.tokens
    assert data.train.position.max() < 96 and data.train.position.any()
    for arch in ("seed", "deeprock", "transformer"):
        config = RunConfig(catalog=str(catalog), model=ModelSettings(arch=arch),
                           data=data.settings)
        config.train.augment_semitones = 5
        x, _ = training_batches(config, data)[0]
        if arch == "seed":
            assert not isinstance(x, dict)
            continue
        plain = training_batches(RunConfig(catalog=str(catalog), model=config.model,
                                           data=data.settings), data)
        starts = plain.all_starts[plain.order[:len(x["positions"])]]
        window = starts[:, None] + np.arange(16)
        np.testing.assert_array_equal(plain[0][0]["positions"], data.train.position[window])
        np.testing.assert_array_equal(x["positions"], plain[0][0]["positions"])  # kept
        assert not np.array_equal(x["tokens"], plain[0][0]["tokens"])  # moved
        model = build_model(ModelSettings(arch=arch, units=16, layers=1, embedding=8), len(
            data.vocabulary))
        assert "positions" in {tensor.name for tensor in model.inputs}
        model.train_on_batch(x, training_batches(config, data)[0][1])
