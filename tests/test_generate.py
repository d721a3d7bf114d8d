"""Generation: numpy inference against Keras, sampling, primers, rhythm, the CLI, the gallery."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from deeprock.generation import primers, sampling
from deeprock.generation.gallery import (
    GalleryError,
    delete_riff,
    list_riffs,
    rename_riff,
    save_riff,
)
from deeprock.generation.generate import (
    GenerationRequest,
    RunError,
    generate,
    load_run,
    regenerate,
    settings_record,
)
from deeprock.generation.heads import softmax
from deeprock.generation.midi_out import riff_midi
from deeprock.generation.outputs import OutputOptions, riff_files
from deeprock.generation.primers import Primer, PrimerError
from deeprock.generation.riff import Riff
from deeprock.generation.sampling import SamplingSettings
from deeprock.training.runs import RunSplit
from tests.conftest import midi_bytes, notes
from tests.generate_fixtures import SEQ_LEN, assert_weights_match_keras


def _window(runs, loaded, seed: int = 1) -> Primer:
    run = loaded["deeprock"]
    return primers.window_primer(str(runs["catalog"]), run.split,
                                 np.random.default_rng(seed), SEQ_LEN)


def test_numpy_steps_match_the_keras_model(runs, loaded):
    from deeprock.training.models import load_model

    rng = np.random.default_rng(0)
    vocabulary = len(loaded["deeprock"].vocabulary)
    tokens = rng.integers(1, vocabulary, (3, SEQ_LEN)).astype("int32")
    deltas = rng.integers(0, 49, (3, SEQ_LEN)).astype("int32")
    durations = rng.integers(1, 49, (3, SEQ_LEN)).astype("int32")
    positions = rng.integers(0, 96, (3, SEQ_LEN)).astype("int32")
    model = load_model(str(runs["deeprock"] / "best.keras"))
    expected = model({"tokens": tokens, "deltas": deltas, "durations": durations,
                      "positions": positions, "next_tokens": np.roll(tokens, -1, axis=1)},
                     training=False)
    net = loaded["deeprock"].network
    assert net.takes_positions
    state = net.initial_state(3)
    for t in range(SEQ_LEN):
        logits, hidden, state = net.token_step(tokens[:, t], deltas[:, t], durations[:, t],
                                               positions[:, t], state)
        delta, duration = net.rhythm(hidden, np.roll(tokens, -1, axis=1)[:, t])
        np.testing.assert_allclose(softmax(logits), expected["next_token"][:, t], atol=1e-5)
        np.testing.assert_allclose(softmax(delta), expected["next_delta"][:, t], atol=1e-5)
        np.testing.assert_allclose(softmax(duration), expected["next_duration"][:, t],
                                   atol=1e-5)

    seed_model = load_model(str(runs["seed"] / "best.keras"))
    expected = np.asarray(seed_model(tokens[:, :, None].astype("float32"), training=False))
    net = loaded["seed"].network
    state = net.initial_state(3)
    for t in range(SEQ_LEN):
        logits, state = net.token_step(tokens[:, t], state)
    np.testing.assert_allclose(softmax(logits), expected, atol=1e-5)


@pytest.mark.parametrize("arch", ["deeprock", "seed"])
def test_weights_read_from_the_archive_equal_keras(runs, arch):
    assert_weights_match_keras(runs[arch] / "best.keras")


def test_a_multi_head_attention_layer_reads_in_get_weights_order(tmp_path):
    import keras

    tokens = keras.Input((5, 8))
    attended = keras.layers.MultiHeadAttention(2, 4, name="attention")(tokens, tokens)
    model = keras.Model(tokens, keras.layers.LayerNormalization(name="norm")(attended),
                        name="nested")
    model.save(tmp_path / "nested.keras")
    assert_weights_match_keras(tmp_path / "nested.keras")


def test_the_command_line_generates_without_tensorflow_or_keras(runs, tmp_path):
    script = ("import sys\nfrom deeprock.cli import main\n"
              f"code = main(['generate', '--model', {str(runs['deeprock'])!r}, '--out', "
              f"{str(tmp_path / 'riff.mid')!r}, '--length', '50', '--primer', 'none'])\n"
              "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True, cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.split()[-3:] == ["0", "False", "False"]
    assert (tmp_path / "riff.mid").stat().st_size > 0


def test_same_seed_same_riff_byte_for_byte(runs, loaded):
    request = GenerationRequest(length_tokens=60, seed=11, variations=2)
    first = generate(loaded["deeprock"], _window(runs, loaded), request)
    again = generate(loaded["deeprock"], _window(runs, loaded), request)
    assert [riff_midi(r) for r in first.riffs] == [riff_midi(r) for r in again.riffs]
    other = generate(loaded["deeprock"], _window(runs, loaded), GenerationRequest(60, seed=12))
    assert other.riffs[0] != first.riffs[0]
    assert first.riffs[0] != first.riffs[1]  # variations differ


@pytest.mark.parametrize("arch", ["deeprock", "seed"])
def test_a_batch_equals_the_variations_one_by_one(runs, loaded, arch):
    primer = _window(runs, loaded)
    batch = generate(loaded[arch], primer, GenerationRequest(80, seed=5, variations=4)).riffs
    for number, riff in enumerate(batch):
        alone = generate(loaded[arch], primer,
                         GenerationRequest(80, seed=5, first_variation=number)).riffs[0]
        assert alone == riff


def test_deeprock_rhythm_is_not_evenly_spaced_and_seed_rhythm_modes(runs, loaded):
    primer = _window(runs, loaded)
    riff = generate(loaded["deeprock"], primer, GenerationRequest(100, seed=2)).riffs[0]
    assert len(np.unique(riff.generated().delta_twelfths[1:])) >= 3
    fixed = generate(loaded["seed"], primer, GenerationRequest(100, rhythm="fixed")).riffs[0]
    onsets = fixed.onsets_twelfths()[primer.riff.__len__():]
    quarters = (onsets - onsets[0]) / 12
    np.testing.assert_allclose(quarters, 0.3 * np.arange(len(onsets)), atol=1 / 12)
    drawn = generate(loaded["seed"], primer, GenerationRequest(100)).riffs[0]
    gaps = drawn.generated().delta_twelfths[1:]
    assert len(np.unique(gaps)) >= 3
    assert set(gaps) <= set(np.flatnonzero(loaded["seed"].delta_counts))


def test_length_in_bars_and_caps(runs, loaded):
    riff = generate(loaded["deeprock"], Primer.none(),
                    GenerationRequest(length_bars=2, seed=3)).riffs[0]
    onsets = riff.onsets_twelfths()
    assert onsets[-1] < 2 * 48
    result = generate(loaded["deeprock"], Primer.none(), GenerationRequest(50_000))
    assert len(result.riffs[0]) == 2000 and "capped at 2000" in result.messages[0]
    long_primer = _window(runs, loaded)
    doubled = Riff(long_primer.riff.tokens * 2, np.tile(long_primer.riff.delta_twelfths, 2),
                   np.tile(long_primer.riff.duration_twelfths, 2))
    result = generate(loaded["deeprock"], Primer("upload", doubled, "x.mid"),
                      GenerationRequest(10))
    assert result.riffs[0].primer_length == SEQ_LEN
    assert any("last 16 are used" in message for message in result.messages)


@pytest.mark.parametrize("change, message", [
    ({"temperature": -0.5}, "temperature must be 0"), ({"top_p": 0.0}, "top-p"),
    ({"top_p": 1.5}, "top-p"), ({"top_k": -1}, "top-k"),
])
def test_sampling_settings_refused(loaded, change, message):
    with pytest.raises(ValueError, match=message):
        generate(loaded["deeprock"], Primer.none(),
                 GenerationRequest(10, sampling=SamplingSettings(**change)))


def test_zero_length_refused_and_greedy_allowed(runs, loaded):
    with pytest.raises(ValueError, match="at least 1"):
        generate(loaded["deeprock"], Primer.none(), GenerationRequest(0))
    greedy = GenerationRequest(30, sampling=SamplingSettings(temperature=0), seed=1)
    other = GenerationRequest(30, sampling=SamplingSettings(temperature=0), seed=2)
    primer = _window(runs, loaded)
    assert (generate(loaded["deeprock"], primer, greedy).riffs[0]
            == generate(loaded["deeprock"], primer, other).riffs[0])


def test_guard_caps_repeats_and_penalises_recent_tokens():
    logits = np.log([0.5, 0.3, 0.1, 0.1])
    settings = SamplingSettings(repetition_penalty=2.0, repetition_window=4, max_repeat=3)
    row = np.exp(sampling.guarded(logits, [2, 1, 1, 1], settings))
    assert row[0] == 0  # never <unk>
    assert row[1] == 0  # repeated 3 times in a row: capped
    assert row[2] == pytest.approx(0.05)  # recent: halved
    assert row[3] == pytest.approx(0.1)
    rng = np.random.default_rng(0)
    scores = sampling.log_counts([0.0, 0.6, 0.3, 0.1])
    assert {sampling.pick(scores, rng, 1.0, top_k=2) for _ in range(200)} == {1, 2}
    assert {sampling.pick(scores, rng, 1.0, top_p=0.5) for _ in range(200)} == {1}
    assert {sampling.pick(scores, rng, 1.0) for _ in range(300)} == {1, 2, 3}
    assert sampling.pick(scores, rng, 0.0) == 1


def test_repeat_cap_holds_on_a_model_that_loves_one_token(loaded):
    run = loaded["deeprock"]
    settings = SamplingSettings(temperature=0, max_repeat=4, repetition_penalty=1.0)
    riff = generate(run, Primer.none(), GenerationRequest(200, sampling=settings)).riffs[0]
    ids = [run.vocabulary.id(t) for t in riff.tokens]
    longest = max(len(list(run)) for run in _runs(ids))
    assert longest <= 4


def _runs(ids: list[int]):
    from itertools import groupby

    return (group for _, group in groupby(ids))


def test_bad_run_folders(runs, tmp_path):
    with pytest.raises(RunError, match="no run folder"):
        load_run(tmp_path / "missing")
    broken = tmp_path / "broken"
    shutil.copytree(runs["deeprock"], broken)
    (broken / "best.keras").unlink()
    with pytest.raises(RunError, match=r"lacks best\.keras"):
        load_run(broken)
    newer = tmp_path / "newer"
    shutil.copytree(runs["deeprock"], newer)
    vocab = json.loads((newer / "vocab.json").read_text())
    (newer / "vocab.json").write_text(json.dumps({**vocab, "version": 99}))
    with pytest.raises(RunError, match="another version"):
        load_run(newer)
    alien = tmp_path / "alien"
    shutil.copytree(runs["deeprock"], alien)
    config = json.loads((alien / "config.json").read_text())
    config["model"]["arch"] = "mamba"
    (alien / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunError, match="architecture 'mamba'"):
        load_run(alien)
    config["model"]["arch"] = "transformer"  # a known architecture, not the saved model's
    (alien / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunError, match=r"is a deeprock model .* say transformer"):
        load_run(alien)
    damaged = tmp_path / "damaged"
    shutil.copytree(runs["deeprock"], damaged)
    (damaged / "best.keras").write_bytes(b"not a zip")
    with pytest.raises(RunError, match="cannot be loaded"):
        load_run(damaged)


class RecordingNetwork:
    """A network that notes the bar positions it is fed (a batch row each step)."""

    def __init__(self, net) -> None:
        self.net, self.fed = net, []

    def __getattr__(self, name: str):
        return getattr(self.net, name)

    def token_step(self, tokens, deltas, durations, positions, state):
        self.fed.append(np.asarray(positions).tolist())
        return self.net.token_step(tokens, deltas, durations, positions, state)


def test_generated_positions_continue_the_primers_bars(loaded):
    from dataclasses import replace

    waltz = [mido.MetaMessage("time_signature", numerator=3, denominator=4)]
    guitar = notes(*[(i * 240, 40 + (i % 5) * 2, 200) for i in range(11)])
    primer = primers.upload_primer(midi_bytes([waltz, guitar]), "waltz.mid", tokens=SEQ_LEN)
    assert primer.bar_twelfths == 36
    assert primer.position_twelfths.tolist() == [6 * i % 36 for i in range(11)]
    run = replace(loaded["deeprock"], network=RecordingNetwork(loaded["deeprock"].network))
    riffs = generate(run, primer, GenerationRequest(30, seed=2, variations=2)).riffs
    fed = np.array([row * 2 if len(row) == 1 else row for row in run.network.fed])
    assert fed[:10, 0].tolist() == primer.position_twelfths[:10].tolist()  # primed in batch 1
    for variation, riff in enumerate(riffs):
        positions = fed[:, variation]
        assert len(positions) == len(riff) - 1  # every token but the last is fed
        steps = range(len(primer.riff), len(riff) - 1)
        assert all(positions[k] == (positions[k - 1] + riff.delta_twelfths[k]) % 36
                   for k in steps)
    run.network.fed.clear()
    generate(run, Primer.none(), GenerationRequest(5, seed=2))
    assert run.network.fed[0] == [0]  # no primer: the first token on the downbeat, in 4/4
    run.network.fed.clear()
    riff = generate(run, Primer.none(), GenerationRequest(20, seed=2, bar_twelfths=36)).riffs[0]
    onsets = riff.onsets_twelfths()[:-1]
    assert onsets[-1] >= 36  # past the first bar: the fold shows
    assert [row[0] for row in run.network.fed] == (onsets % 36).tolist()  # the riff's 3/4 bars


def test_a_run_from_before_positions_generates_evaluates_and_resumes(runs, tmp_path):
    from deeprock.training.config import RunConfig
    from deeprock.training.evaluate import evaluate_run
    from deeprock.training.models import load_model
    from deeprock.training.train import load_data, training_batches
    from tests.generate_fixtures import tiny_run

    old = tiny_run(tmp_path / "old", runs["catalog"], fit_batches=2, positions=False)
    config = RunConfig.load(old / "config.json")
    assert not config.model.positions and not load_run(old).network.takes_positions
    assert len(generate(load_run(old), _window(runs, {"deeprock": load_run(old)}),
                        GenerationRequest(12)).riffs[0]) == SEQ_LEN + 12
    assert evaluate_run(old, str(runs["catalog"]))["windows"] > 0
    batch = training_batches(config, load_data(config))[0]  # what a resume feeds
    assert "positions" not in batch[0]
    load_model(str(old / "best.keras")).train_on_batch(*batch)


def test_upload_primers(loaded):
    guitar = midi_bytes([notes(*[(i * 240, 40 + (i % 5) * 2, 200) for i in range(40)])])
    primer = primers.upload_primer(guitar, "../../etc/my riff!.mid", tokens=SEQ_LEN)
    assert primer.source == "my_riff_.mid" and len(primer.riff) == SEQ_LEN
    result = generate(loaded["deeprock"], primer, GenerationRequest(20))
    assert result.riffs[0].primer_length == SEQ_LEN
    with pytest.raises(PrimerError, match="not a MIDI file"):
        primers.upload_primer(b"hello world", "a.mid", SEQ_LEN)
    with pytest.raises(PrimerError, match="byte limit"):
        primers.upload_primer(b"MThd" + bytes(primers.UPLOAD_MAX_BYTES), "big.mid", SEQ_LEN)
    drums = midi_bytes([notes((0, 36, 100), (240, 38, 100), channel=9, program=None)])
    with pytest.raises(PrimerError, match="no pitched track"):
        primers.upload_primer(drums, "drums.mid", SEQ_LEN)
    with pytest.raises(PrimerError, match="pitched tracks"):
        primers.upload_primer(guitar, "a.mid", SEQ_LEN, track=3)


def test_song_primer_and_missing_catalog(runs, loaded, tmp_path):
    from deeprock.corpus.catalog import Catalog

    with Catalog(runs["catalog"]) as catalog:
        path = catalog.files()[0]["path"]
    primer = primers.song_primer(str(runs["catalog"]), path, SEQ_LEN)
    assert primer.source == path and 0 < len(primer.riff) <= SEQ_LEN
    with pytest.raises(PrimerError, match="no song"):
        primers.song_primer(str(runs["catalog"]), "no such song", SEQ_LEN)
    with pytest.raises(PrimerError, match="is not there"):
        primers.window_primer(str(tmp_path / "gone.sqlite"), RunSplit(), np.random.default_rng(0),
                              8)


def _catalog_tracks(catalog_path) -> tuple[dict, list[str]]:
    """(root, path, index, channel) → token names of every stored stream, and the guitars'."""
    from deeprock.corpus.catalog import Catalog

    with Catalog(catalog_path) as catalog:
        paths, names = catalog.file_keys(), catalog.vocabulary.tokens
        guitars = {(s.file_id, s.idx, s.channel) for s in catalog.streams()}
        tracks = {(*paths[s.file_id], s.idx, s.channel): [names[i] for i in s.ids]
                  for s in catalog.streams(guitar_only=False)}
        return tracks, [(*paths[f], i, c) for f, i, c in sorted(guitars)]


def _is_slice(part: list[str], whole: list[str]) -> bool:
    return any(whole[i:i + len(part)] == part for i in range(len(whole) - len(part) + 1))


def test_window_primers_come_from_the_runs_tracks_read_once(runs, loaded, monkeypatch):
    """split.json names the trained tracks: a window comes from one of them, never from another
    track of the same file; the catalog is read once for every primer and the statistics."""
    from dataclasses import replace

    from deeprock.corpus.catalog import Catalog
    from deeprock.generation.reference import dataset_reference

    tracks, guitars = _catalog_tracks(runs["catalog"])
    assert set(loaded["deeprock"].split.train_tracks) <= set(tracks)
    by_file: dict[tuple, list] = {}
    for key in guitars:
        by_file.setdefault(key[:2], []).append(key)
    second = next(keys[1] for keys in by_file.values()
                  if len(keys) > 1 and len(tracks[keys[1]]) > SEQ_LEN)  # a file's 2nd guitar
    split = RunSplit(train_files=(second[:2],), train_tracks=(second,))
    primers._read_run_streams.cache_clear()
    reads = []
    original = Catalog.streams
    monkeypatch.setattr(Catalog, "streams", lambda self, *a, **k: reads.append(1) or
                        original(self, *a, **k))
    for seed in range(12):
        primer = primers.window_primer(str(runs["catalog"]), split, np.random.default_rng(seed),
                                       SEQ_LEN)
        assert _is_slice(primer.riff.tokens, tracks[second]), seed
    dataset_reference(replace(loaded["deeprock"], split=split), str(runs["catalog"]))
    assert len(reads) == 1
    # an older split.json (files only): the files' guitar tracks, as before
    older = RunSplit(train_files=(second[:2],))
    for seed in range(12):
        primer = primers.window_primer(str(runs["catalog"]), older, np.random.default_rng(seed),
                                       SEQ_LEN)
        assert any(_is_slice(primer.riff.tokens, tracks[key]) for key in by_file[second[:2]])
    assert len(reads) == 2


def test_cli_writes_every_output_and_settings_regenerate(runs, tmp_path, capsys):
    from deeprock.cli import main

    out = tmp_path / "out"
    code = main(["generate", "--model", str(runs["deeprock"]), "--out", str(out / "riff.mid"),
                 "--length", "40", "--seed", "4", "--program", "29", "--tempo", "100",
                 "--tab", str(out / "tab.txt"), "--gp5", str(out / "riff.gp5"),
                 "--musicxml", str(out / "riff.musicxml"), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tokens"] == 40 and report["notes"] >= 40 and report["seconds"] > 0
    assert set(report["outputs"]) == {"mid", "txt", "gp5", "musicxml"}
    assert set(report["structure"]) == {"exact_repeat", "near_repeat", "groove",
                                        "scale_consistency"}
    song = mido.MidiFile(file=io.BytesIO((out / "riff.mid").read_bytes()))
    programs = {m.program for track in song.tracks for m in track if m.type == "program_change"}
    tempos = [m.tempo for track in song.tracks for m in track if m.type == "set_tempo"]
    assert programs == {29} and tempos == [mido.bpm2tempo(100)]
    assert "|" in (out / "tab.txt").read_text()
    record = report["settings"]
    assert record["request"]["seed"] == 4 and record["primer"]["kind"] == "window"
    again = regenerate(record)
    assert riff_midi(again, program=29, tempo_bpm=100) == (out / "riff.mid").read_bytes()


def test_cli_bad_input_is_one_line(runs, tmp_path, capsys):
    from deeprock.cli import main

    out = str(tmp_path / "x.mid")
    text = tmp_path / "notes.mid"
    text.write_text("a riff, in words")
    for extra, message in [(["--temperature", "-1"], "temperature"),
                           (["--top-p", "2"], "top-p"), (["--primer", "song"], "--song"),
                           (["--primer", str(text)], "not a MIDI file")]:
        assert main(["generate", "--model", str(runs["deeprock"]), "--out", out, *extra]) == 2
        assert message in capsys.readouterr().err
    assert not Path(out).exists()


def test_gallery_save_list_rename_delete(runs, loaded, tmp_path):
    run = loaded["deeprock"]
    request = GenerationRequest(30, seed=9, variations=2)
    result = generate(run, Primer.none(), request)
    files = riff_files(result.riffs[1], OutputOptions(), ("mid", "txt"))
    record = settings_record(run, result.primer, request, 1)
    root = tmp_path / "riffs"
    folder = save_riff(root, "My first riff!", result.riffs[1], files, record)
    assert folder.name == "My_first_riff" and (folder / "riff.mid").is_file()
    second = save_riff(root, "My first riff!", result.riffs[1], files, record)
    assert second.name == "My_first_riff-2"
    entries = list_riffs(root)
    assert {e.name for e in entries} == {"My_first_riff", "My_first_riff-2"}
    assert entries[0].riff == result.riffs[1]
    assert regenerate(entries[0].record, run) == result.riffs[1]
    assert rename_riff(root, "My_first_riff", "keeper").name == "keeper"
    with pytest.raises(GalleryError, match="already exists"):
        rename_riff(root, "keeper", "My_first_riff-2")
    delete_riff(root, "keeper")
    with pytest.raises(GalleryError, match="no saved riff"):
        delete_riff(root, "../keeper")
    assert [e.name for e in list_riffs(root)] == ["My_first_riff-2"]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(GalleryError, match="cannot save the riff"):
        save_riff(blocker / "riffs", "x", result.riffs[0], files, record)


def test_missing_soundfont_leaves_every_other_output(loaded, tmp_path):
    riff = generate(loaded["deeprock"], Primer.none(), GenerationRequest(12, seed=1)).riffs[0]
    options = OutputOptions(soundfont=str(tmp_path / "missing.sf2"))
    files = riff_files(riff, options, ("mid", "wav", "txt", "gp5"))
    assert "not found" in files.problems["wav"]
    assert set(files.data) == {"mid", "txt", "gp5"} and files.data["mid"][:4] == b"MThd"
