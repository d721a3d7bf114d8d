"""Key and scale steering and the originality guard, on real tiny runs (constraints.py)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from deeprock.generation import primers
from deeprock.generation.constraints import Steering, in_key_share, resolve_key
from deeprock.generation.copyindex import ngram_hashes, row_hashes
from deeprock.generation.generate import (
    GenerationRequest,
    generate,
    load_run,
    regenerate,
    settings_record,
)
from deeprock.generation.midi_out import riff_midi
from deeprock.generation.originality import OriginalityGuard
from deeprock.generation.primers import Primer
from deeprock.generation.reference import dataset_reference
from deeprock.generation.sampling import SamplingSettings
from deeprock.generation.scales import Key, detect_key
from deeprock.generation.stats import vocabulary_pitches
from tests.generate_fixtures import SEQ_LEN


@pytest.fixture(scope="module")
def run(runs):
    return load_run(runs["deeprock"])


def _primer(runs, run, seed: int) -> Primer:
    return primers.window_primer(str(runs["catalog"]), run.split, np.random.default_rng(seed),
                                 SEQ_LEN)


def test_key_is_detected_from_the_primer_or_chosen():
    e_minor_pentatonic = ["E2", "G2", "A2", "B2", "D3", "E3 B3"]
    assert resolve_key(e_minor_pentatonic, "auto", "auto") == (Key(4, "minor-pentatonic"),
                                                               "primer")
    key, source = resolve_key(e_minor_pentatonic, "auto", "major")  # the best major root
    assert (key.root, key.scale, source) == (0, "major", "primer")  # C, D, G: C comes first
    key, source = resolve_key([*e_minor_pentatonic, "G#3"], "A", "auto")  # the best on A
    assert (key.scale, source) == ("major", "primer")  # A major and minor tie: major first
    assert key.fit == pytest.approx(7 / 8)
    assert resolve_key([], "Bb", "blues") == (Key(10, "blues", fit=None), "chosen")
    assert resolve_key([], "auto", "auto") == (None, "")
    assert resolve_key(e_minor_pentatonic, "E", "any") == (None, "")
    with pytest.raises(ValueError, match="no notes to detect the scale"):
        resolve_key([], "E", "auto")
    assert detect_key([40, 41], root=4, scale="major").fit == pytest.approx(0.5)


@pytest.mark.parametrize("change, message", [
    ({"scale": "dorian"}, "scale 'dorian' is not one of"), ({"key": "H"}, "not a note name"),
    ({"max_copy": -1}, "longest copy allowed"),
])
def test_bad_key_settings_are_refused(run, change, message):
    with pytest.raises(ValueError, match=message):
        generate(run, Primer.none(), GenerationRequest(10, **change))


def test_strict_keeps_every_generated_note_in_the_scale(runs, run):
    scale = Key.parse("E", "minor-pentatonic").pitch_classes()
    loose_shares = []
    for seed in range(3):
        primer = _primer(runs, run, seed)
        request = GenerationRequest(120, seed=seed, key="E", scale="minor-pentatonic",
                                    strict=True, variations=2)
        result = generate(run, primer, request)
        assert result.key["root"] == "E" and result.key["source"] == "chosen"
        for riff in result.riffs:
            pitches = [p for chord in vocabulary_pitches(riff.generated().tokens) for p in chord]
            assert pitches and scale[np.asarray(pitches) % 12].all()
        free = generate(run, primer, GenerationRequest(120, seed=seed, scale="any"))
        assert free.key is None
        loose_shares.append(in_key_share(free.riffs[0].generated().tokens, result.key))
    assert min(loose_shares) < 1  # the model alone does stray: the mask is what held it


def test_the_soft_weight_pulls_toward_the_primers_key(runs, run):
    # hot and without the copy prior, so that the model alone strays from the key (at the
    # defaults a tiny run replays its in-key primer: nothing left to pull, the test flaked)
    hot = SamplingSettings(temperature=1.5, top_p=1.0, repeat_bias=0.0)
    steered, free = [], []
    for seed in range(4):
        primer = _primer(runs, run, seed)
        result = generate(run, primer, GenerationRequest(150, sampling=hot, seed=seed))  # key: auto
        assert result.key["source"] == "primer"
        steered.append(in_key_share(result.riffs[0].generated().tokens, result.key))
        alone = generate(run, primer, GenerationRequest(150, sampling=hot, seed=seed, scale="any"))
        free.append(in_key_share(alone.riffs[0].generated().tokens, result.key))
    assert np.mean(free) < 1 and np.mean(steered) > np.mean(free)


def test_the_hash_of_a_row_is_copyindex_s():
    ids = np.array([5, 1, 9, 9, 2, 7, 1])
    rows = np.lib.stride_tricks.sliding_window_view(ids, 3)
    np.testing.assert_array_equal(row_hashes(rows), ngram_hashes(ids, np.arange(5), 3))


def test_the_guard_forbids_what_completes_a_training_copy_and_no_more():
    guard = OriginalityGuard.from_streams([np.array([1, 2, 3, 4]), np.array([2, 3, 5])], 2)
    forbidden = guard.forbidden(np.array([[2, 3], [1, 2], [3, 4], [4, 2]]))
    # (3, 4) ends its track; (4, 2) only spans the end of one track and the start of the next
    assert [sorted(ids.tolist()) for ids in forbidden] == [[4, 5], [3], [], []]


@pytest.mark.parametrize("below", [1, 2])
def test_the_guard_never_lets_a_copy_exceed_k(runs, run, below):
    """K is set below what this model copies without the guard, so the guard has work."""
    reference = dataset_reference(run)  # CopyIndex over the run's training tracks
    requests = [(_primer(runs, run, seed) if seed % 2 else Primer.none(),
                 GenerationRequest(150, seed=seed, variations=2, scale="any", max_copy=0))
                for seed in range(5)]
    unguarded = max(reference.longest_copy(riff) for primer, request in requests
                    for riff in generate(run, primer, request).riffs)
    max_copy = unguarded - below
    assert max_copy >= 1, f"the unguarded model copies only {unguarded} tokens"
    for primer, request in requests:
        guarded = generate(run, primer, GenerationRequest(**{**vars(request),
                                                             "max_copy": max_copy}))
        assert all(reference.longest_copy(riff) <= max_copy for riff in guarded.riffs)
        assert not any("originality guard" in message for message in guarded.messages)


def test_a_row_left_empty_drops_strict_then_the_guard():
    strict = np.array([False, True, True, False])
    guard = OriginalityGuard.from_streams([np.array([1, 2, 1, 1, 2, 2])], 1)
    steering = Steering(Key(0, "major"), "chosen", bias=np.zeros(4), strict=strict,
                        guard=guard)
    logits = np.zeros((2, 4))
    rows = steering.adjust(logits, [[1], [3]], step=1)
    # after 1: 2 and 1 followed it in training; strict leaves 1 and 2: strict is dropped
    assert np.isfinite(rows[0]).tolist() == [True, False, False, True]
    assert np.isfinite(rows[1]).tolist() == [False, True, True, False]  # nothing forbidden
    everything = OriginalityGuard.from_streams([np.array([1, 0, 1, 1, 1, 2, 1, 3])], 1)
    steering = Steering(guard=everything)
    rows = steering.adjust(np.zeros((1, 4)), [[1]], step=1)
    np.testing.assert_array_equal(rows, np.zeros((1, 4)))  # the model's choice stands
    assert "forbade every token at 1 step(s)" in steering.messages()[0]


def test_regenerate_from_the_record_is_byte_identical(runs, run):
    primer = _primer(runs, run, 2)
    request = GenerationRequest(80, seed=9, variations=3, key="A", scale="blues", strict=True,
                                max_copy=3)
    result = generate(run, primer, request)
    for number, riff in enumerate(result.riffs):
        record = json.loads(json.dumps(settings_record(run, result.primer, request, number)))
        assert record["request"]["scale"] == "blues" and record["request"]["max_copy"] == 3
        assert riff_midi(regenerate(record, run)) == riff_midi(riff)
    legacy = settings_record(run, result.primer, request, 0)
    for name in ("key", "scale", "strict", "max_copy"):
        del legacy["request"][name]
    unsteered = GenerationRequest.from_dict(legacy["request"])
    assert (unsteered.scale, unsteered.max_copy) == ("any", 0)  # made before steering: none


def test_a_missing_catalog_turns_the_guard_off_with_a_note(runs, run, tmp_path):
    moved = tmp_path / "run"
    shutil.copytree(runs["deeprock"], moved)
    config = json.loads((moved / "config.json").read_text())
    config["catalog"] = str(tmp_path / "gone.sqlite")
    (moved / "config.json").write_text(json.dumps(config))
    result = generate(load_run(moved), Primer.none(), GenerationRequest(20, seed=1))
    assert any(m.startswith("the originality guard is off") for m in result.messages)


def test_cli_reports_the_key_and_refuses_a_bad_scale(runs, tmp_path, capsys):
    from deeprock.cli import main

    out = str(tmp_path / "riff.mid")
    code = main(["generate", "--model", str(runs["deeprock"]), "--out", out, "--length", "40",
                 "--key", "E", "--scale", "minor-pentatonic", "--strict", "--max-copy", "4",
                 "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["key"]["root"] == "E" and report["key"]["scale"] == "minor-pentatonic"
    assert report["in_key"] == 1.0
    assert report["settings"]["request"]["strict"] is True
    assert main(["generate", "--model", str(runs["deeprock"]), "--out", out,
                 "--scale", "lydian"]) == 2
    assert "scale 'lydian' is not one of" in capsys.readouterr().err
