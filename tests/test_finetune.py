"""A conditioned run end to end from the CLI (in process: one TensorFlow import), generating
in an artist's style, and fine-tuning it with --init-from."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from deeprock.cli import main
from deeprock.training import runs
from deeprock.training.conditioning import ANY, ArtistTable
from tests.training_fixtures import TINY, demo_catalog

CONDITIONED = ("--condition", "artist", "--min-artist-files", "3")


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _train(capsys, catalog: Path, out: Path, *extra: str) -> dict:
    code, stdout, stderr = _cli(capsys, "train", "--catalog", str(catalog), "--out", str(out),
                                "--no-selection", *TINY, "--json", *extra)
    assert code == 0, stderr
    return json.loads(stdout)


@pytest.fixture(scope="module")
def lock(tmp_path_factory):
    previous = os.environ.get("DEEPROCK_TRAIN_LOCK")
    os.environ["DEEPROCK_TRAIN_LOCK"] = str(tmp_path_factory.mktemp("lock") / "train.lock")
    yield
    os.environ.pop("DEEPROCK_TRAIN_LOCK")
    if previous is not None:
        os.environ["DEEPROCK_TRAIN_LOCK"] = previous


@pytest.fixture(scope="module")
def conditioned(tmp_path_factory, lock):
    """(catalog, a conditioned deeprock run of 3 epochs)."""
    folder = tmp_path_factory.mktemp("conditioned")
    catalog = demo_catalog(folder)
    run = folder / "styles"
    code = main(["train", "--catalog", str(catalog), "--out", str(run), "--no-selection", *TINY,
                 "--epochs", "3", "--patience", "0", "--json", *CONDITIONED])
    assert code == 0
    return catalog, run


def _largest_artist(run: Path) -> str:
    table = ArtistTable.load(run / runs.ARTISTS)
    return max((name for name in table.ids if name not in (ANY, "other")),
               key=lambda name: table.files[name])


def test_a_conditioned_run_saves_and_reloads_its_artist_table(conditioned):
    from deeprock.generation.generate import load_run

    _, run = conditioned
    table = ArtistTable.load(run / runs.ARTISTS)
    assert table.ids[ANY] == 0 and len(table) >= 3 and table.min_files == 3
    config = json.loads((run / runs.CONFIG).read_text())
    assert config["model"]["condition"] == "artist"
    assert config["train"]["any_artist_share"] == 0.15
    loaded = load_run(run)
    assert loaded.artists == table and loaded.network.takes_artists


def test_a_conditioned_run_evaluates_each_track_as_its_artist(conditioned, capsys):
    catalog, run = conditioned
    code, out, err = _cli(capsys, "evaluate", "--model", str(run), "--catalog", str(catalog),
                          "--held-out", "--json")
    assert code == 0, err
    assert 1 < json.loads(out)["perplexity"] < 1000


def test_generate_in_an_artists_style_and_near_names(conditioned, tmp_path, capsys):
    from deeprock.corpus.artists import ArtistRule, artist_of

    _, run = conditioned
    artist = _largest_artist(run)
    for name in (artist, ANY):
        primed_by = set()
        for seed in range(4):  # a style's window primers come from its own training tracks
            code, out, err = _cli(capsys, "generate", "--model", str(run), "--out",
                                  str(tmp_path / f"{name}.mid"), "--length", "20", "--json",
                                  "--artist", name, "--seed", str(seed))
            assert code == 0, err
            settings = json.loads(out)["settings"]
            assert settings["request"]["artist"] == name
            primed_by.add(artist_of(settings["primer"]["source"].split(" (tokens")[0],
                                    ArtistRule()))
        assert primed_by == {artist} if name == artist else len(primed_by) > 1
    code, _, err = _cli(capsys, "generate", "--model", str(run), "--out",
                        str(tmp_path / "typo.mid"), "--artist", artist[:-1] + "x")
    assert code != 0 and f"nearest: {artist}" in err
    assert not (tmp_path / "typo.mid").exists()


def test_an_unconditioned_run_says_it_has_no_artists(tmp_path, capsys):
    from tests.generate_fixtures import shared_runs

    code, _, err = _cli(capsys, "generate", "--model", str(shared_runs()["deeprock"]), "--out",
                        str(tmp_path / "riff.mid"), "--artist", "nirvana")
    assert code != 0 and "trained without artist conditioning" in err


def test_init_from_refuses_another_architecture_or_vocabulary(conditioned, tmp_path, capsys):
    catalog, run = conditioned
    code, _, err = _cli(capsys, "train", "--init-from", str(run), "--out", str(tmp_path / "x"),
                        "--arch", "transformer")
    assert code != 0 and "is a deeprock run" in err and "asks for transformer" in err
    other = tmp_path / "other-vocabulary"
    shutil.copytree(run, other, ignore=shutil.ignore_patterns(runs.TOKENS))
    vocabulary = json.loads((other / runs.VOCAB).read_text())
    vocabulary.update(tokens=["<unk>", "C9"], counts=[0, 1])  # a run of another tokenization
    (other / runs.VOCAB).write_text(json.dumps(vocabulary))
    code, _, err = _cli(capsys, "train", "--init-from", str(other), "--out",
                        str(tmp_path / "y"), "--catalog", str(catalog))
    assert code != 0 and f"outside the vocabulary of run {other}" in err


def test_init_from_continues_the_runs_weights_and_resumes(conditioned, tmp_path, capsys,
                                                          monkeypatch):
    catalog, run = conditioned
    artist = _largest_artist(run)
    tuned, fresh = tmp_path / "tuned", tmp_path / "fresh"
    monkeypatch.chdir(tmp_path)  # relative names, recorded as absolute: read from anywhere
    code, _, err = _cli(capsys, "train", "--init-from", os.path.relpath(run), "--out", "tuned",
                        "--artists", artist, "--epochs", "1", "--json")
    assert code == 0, err
    _train(capsys, catalog, fresh, *CONDITIONED, "--artists", artist, "--epochs", "1")
    first = [runs.read_metrics(folder)[0]["loss"] for folder in (tuned, fresh)]
    assert first[0] < first[1]
    config = json.loads((tuned / runs.CONFIG).read_text())
    parent = json.loads((run / runs.CONFIG).read_text())
    assert config["init_from"] == str(run) and config["data"]["artists"] == [artist]
    assert config["catalog"] == parent["catalog"] == str(catalog)
    assert config["model"]["learning_rate"] == pytest.approx(
        parent["model"]["learning_rate"] / 10)
    for name in (runs.VOCAB, runs.ARTISTS):
        assert json.loads((tuned / name).read_text()) == json.loads((run / name).read_text())
    code, _, err = _cli(capsys, "train", "--out", str(tuned), "--resume", "--epochs", "2",
                        "--json")
    assert code == 0, err
    assert [row["epoch"] for row in runs.read_metrics(tuned)] == [1, 2]
