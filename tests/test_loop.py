"""Loop mode and practice playback: exact bars, seamless repeats, the turnaround, count-in,
click, practice tempo, and audio as long as the MIDI."""

from __future__ import annotations

import io
import json
import wave

import mido
import numpy as np
import pytest

from deeprock.generation import primers
from deeprock.generation.generate import (
    GenerationRequest,
    generate,
    regenerate,
    settings_record,
)
from deeprock.generation.loop import LoopSettings, joined, loop_riff
from deeprock.generation.midi_out import riff_midi
from deeprock.generation.outputs import OutputOptions, RiffRender
from deeprock.generation.practice import CLICK_PITCHES, Practice
from deeprock.generation.primers import Primer
from deeprock.generation.riff import Riff
from deeprock.music import audio
from tests.conftest import timed_messages
from tests.generate_fixtures import SEQ_LEN

BAR_TICKS = 1920  # 4/4 at 480 ticks a beat
TICKS_PER_TWELFTH = 40


def _primer(runs, run, kind: str) -> Primer:
    if kind == "none":
        return Primer.none()
    return primers.window_primer(str(runs["catalog"]), run.split, np.random.default_rng(1),
                                 SEQ_LEN)


def _notes(track: mido.MidiTrack) -> list[tuple[int, int, int]]:
    """(onset, off, pitch) of every note of a track."""
    sounding, notes = {}, []
    for tick, message in timed_messages(track):
        if message.type == "note_on" and message.velocity:
            sounding[message.note] = tick
        elif message.type in ("note_on", "note_off") and message.note in sounding:
            notes.append((sounding.pop(message.note), tick, message.note))
    assert not sounding
    return sorted(notes)


def _by_name(song: mido.MidiFile) -> dict[str, mido.MidiTrack]:
    return {track.name: track for track in song.tracks}


def _song(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


@pytest.mark.parametrize("arch", ["deeprock", "seed"])
@pytest.mark.parametrize("primer_kind", ["none", "window"])
def test_loop_midi_is_exactly_n_bars_and_repeats_seamlessly(runs, loaded, arch, primer_kind):
    bars, repeats = 2, 3
    run = loaded[arch]
    request = GenerationRequest(seed=5, variations=2,
                                loop=LoopSettings(bars, repeats, turnaround=False))
    for riff in generate(run, _primer(runs, run, primer_kind), request).riffs:
        length = bars * repeats * 48
        assert riff.generated_onset_twelfths() % 48 == 0  # the loop starts on a bar line
        assert riff.end_twelfths() == riff.generated_onset_twelfths() + length
        song = _song(riff_midi(riff, primer="omit", backing=True,
                               practice=Practice(loop=True)))
        end = bars * repeats * BAR_TICKS
        assert [sum(m.time for m in track) for track in song.tracks] == [end] * 4
        guitar = _notes(_by_name(song)["Guitar"])
        assert guitar[0][0] == 0 and max(off for _, off, _ in guitar) == end
        assert all(off <= end for _, off, _ in _notes(_by_name(song)["Bass"]))
        one = bars * BAR_TICKS
        first = [n for n in guitar if n[0] < one]
        assert max(off for _, off, _ in first) == one  # no gap before the next repeat
        for k in range(1, repeats):
            assert [n for n in guitar if k * one <= n[0] < (k + 1) * one] == [
                (onset + k * one, off + k * one, pitch) for onset, off, pitch in first]


def test_loop_with_primer_marks_the_bar_line_where_the_loop_starts(runs, loaded):
    run = loaded["deeprock"]
    request = GenerationRequest(seed=2, loop=LoopSettings(1, 2, turnaround=False))
    riff = generate(run, _primer(runs, run, "window"), request).riffs[0]
    start = riff.generated_onset_twelfths()
    assert riff.primer_length == SEQ_LEN and start % 48 == 0
    assert riff.primer().end_twelfths() <= start  # the primer is cut at the loop's start
    song = _song(riff_midi(riff, primer="marker"))
    markers = [(tick, m.text) for tick, m in timed_messages(song.tracks[0]) if m.type == "marker"]
    assert markers == [(0, "primer"), (start * TICKS_PER_TWELFTH, "generated")]


def test_turnaround_resamples_only_the_last_bar_and_regenerates(runs, loaded):
    run = loaded["seed"]  # the seed fixture plays many tokens a bar: a turnaround shows
    bars, repeats = 2, 3
    request = GenerationRequest(seed=7, variations=3, loop=LoopSettings(bars, repeats))
    primer = _primer(runs, run, "window")
    result = generate(run, primer, request)
    plain = generate(run, primer, GenerationRequest(
        seed=7, variations=3, loop=LoopSettings(bars, repeats, turnaround=False)))
    length, changed = bars * 48, 0
    for variation, (riff, without) in enumerate(zip(result.riffs, plain.riffs, strict=True)):
        onsets = riff.generated().onsets_twelfths() - riff.generated_onset_twelfths()
        before_turn = onsets < (repeats - 1) * length + length - 48
        other = without.generated().onsets_twelfths() - without.generated_onset_twelfths()
        same = other < (repeats - 1) * length + length - 48
        assert before_turn.sum() == same.sum()
        generated, plain_generated = riff.generated(), without.generated()
        assert generated.tokens[:before_turn.sum()] == plain_generated.tokens[:same.sum()]
        assert riff.end_twelfths() == without.end_twelfths()
        changed += generated.tokens[before_turn.sum():] != plain_generated.tokens[same.sum():]
        record = json.loads(json.dumps(settings_record(run, result.primer, request, variation)))
        assert record["request"]["loop"] == {"bars": 2, "repeats": 3, "turnaround": True}
        assert regenerate(record, run) == riff
    assert changed >= 1  # the model really sampled a new final bar


def test_turnaround_splices_the_continuation_into_the_final_bar():
    # a primer note, then a generated part starting 10 twelfths later (the loop's downbeat)
    riff = Riff(["A1", "E2", "G2", "A2", "B2"], [0, 10, 24, 24, 24], [100, 30, 30, 30, 30], 1)
    seen = {}

    def continue_for(context: Riff, bars: int) -> Riff:
        seen["context"], seen["bars"] = context, bars
        # a continuation of a shortened context: one new token before the bar line, two after
        shortened = Riff(context.tokens[-2:], [0, 24], context.duration_twelfths[-2:])
        more = Riff(["C3", "D3", "F3"], [12, 20, 30], [4, 40, 40])
        both = joined([(0, shortened), (24, more)])
        return Riff(both.tokens, both.delta_twelfths, both.duration_twelfths, 2)

    looped = loop_riff(riff, LoopSettings(bars=2, repeats=2), continue_for)
    assert seen["context"].tokens == ["A1", "E2", "G2", "A2", "B2", "E2", "G2"]
    assert seen["context"].onsets_twelfths().tolist() == [0, 48, 72, 96, 120, 144, 168]
    assert seen["bars"] == 2  # from the context's last onset to the loop's end
    # the primer cut at the bar line; the figure; its first bar again, then D3 and F3
    assert looped.primer_length == 1
    assert looped.tokens == ["A1", "E2", "G2", "A2", "B2", "E2", "G2", "D3", "F3"]
    assert looped.onsets_twelfths().tolist() == [0, 48, 72, 96, 120, 144, 168, 200, 230]
    assert looped.duration_twelfths.tolist() == [48, 30, 30, 30, 24, 30, 30, 40, 10]
    assert looped.end_twelfths() == 48 + 2 * 96


def test_loop_settings_are_checked_and_free_mode_is_the_model_alone(loaded):
    for settings, message in [(LoopSettings(0, 2), "repeats need a loop length"),
                              (LoopSettings(33), "0 \\(free\\) to 32"),
                              (LoopSettings(2, 0), "repeats must be 1 to 16")]:
        with pytest.raises(ValueError, match=message):
            GenerationRequest(loop=settings).checked()
    request = GenerationRequest(seed=3, loop=LoopSettings(4, 2))
    assert GenerationRequest.from_dict(json.loads(json.dumps(request.to_dict()))) == request
    old = GenerationRequest(seed=3).to_dict()
    del old["loop"]  # a settings.json from before loop mode
    assert GenerationRequest.from_dict(old) == GenerationRequest(seed=3)
    free = generate(loaded["deeprock"], Primer.none(), GenerationRequest(40, seed=3)).riffs[0]
    assert len(free) == 40  # free mode: the model's tokens, not cut to bars


def test_click_on_channel_10_one_a_beat_plus_the_count_in():
    riff = Riff(["E2 B2", "G2 D3", "E2"], [0, 30, 90], [12, 12, 12])  # ends at 132
    song = _song(riff_midi(riff, tempo_bpm=120, practice=Practice(tempo_percent=70,
                                                                  count_in=True, click=True)))
    tracks = _by_name(song)
    clicks = [(tick, m) for tick, m in timed_messages(tracks["Click"])
              if m.type == "note_on" and m.velocity]
    bars = 1 + 3  # the count-in, then the riff's 132 twelfths rounded up to whole bars
    assert {m.channel for _, m in clicks} == {9}
    assert [tick for tick, _ in clicks] == list(range(0, bars * BAR_TICKS, 480))
    assert [m.note for _, m in clicks] == [CLICK_PITCHES[0], *[CLICK_PITCHES[1]] * 3] * bars
    assert clicks[0][1].velocity > clicks[1][1].velocity
    assert _notes(tracks["Guitar"])[0][0] == BAR_TICKS  # the riff after the count-in bar
    tempos = [m.tempo for track in song.tracks for m in track if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(84)]
    markers = [(t, m.text) for t, m in timed_messages(song.tracks[0]) if m.type == "marker"]
    assert markers == [(0, "count-in")]
    counted = _song(riff_midi(riff, practice=Practice(count_in=True)))
    assert len([m for m in _by_name(counted)["Click"] if m.type == "note_on"]) == 4
    with pytest.raises(ValueError, match="25 to 200 %"):
        riff_midi(riff, practice=Practice(tempo_percent=10))


def _wav(seconds: float, rate: int = 8000, width: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(b"\x01" * int(seconds * rate) * 2 * width)
    return out.getvalue()


@pytest.mark.parametrize("width", [1, 2])
def test_exact_wav_cuts_the_tail_or_pads_with_silence(width):
    for seconds in (1.5, 3.0):
        data = audio.exact_wav(_wav(2.0, width=width), seconds)
        with wave.open(io.BytesIO(data)) as reader:
            assert reader.getnframes() == seconds * 8000 and reader.getnchannels() == 2
            frames = reader.readframes(reader.getnframes())
        assert frames[:4] == b"\x01" * 4
        if seconds > 2:
            assert frames[-4:] == (b"\x80" if width == 1 else b"\0") * 4


def test_loop_wav_as_long_as_its_midi(loaded):
    try:
        audio.fluidsynth_binary()
        audio.find_soundfont()
    except (audio.AudioUnavailable, audio.AudioError) as error:
        pytest.skip(str(error))
    request = GenerationRequest(seed=4, loop=LoopSettings(2, 2))
    riff = generate(loaded["seed"], Primer.none(), request).riffs[0]
    practice = Practice(tempo_percent=80, count_in=True, click=True, loop=True)
    render = RiffRender(riff, OutputOptions(backing=True, practice=practice))
    midi_seconds = _song(render.mid).length
    assert midi_seconds == pytest.approx((1 + 4) * 4 * 60 / 96)
    with wave.open(io.BytesIO(render.wav)) as reader:
        assert abs(reader.getnframes() - midi_seconds * reader.getframerate()) <= 64
        values = np.frombuffer(reader.readframes(reader.getnframes()), np.int16)
    assert np.abs(values).max() > 300


def test_cli_loop_practice_and_bad_combinations(runs, tmp_path, capsys):
    from deeprock.cli import main

    out = tmp_path / "loop.mid"
    code = main(["generate", "--model", str(runs["seed"]), "--out", str(out), "--seed", "2",
                 "--loop-bars", "2", "--repeats", "2", "--no-turnaround", "--primer", "none",
                 "--practice-tempo", "50", "--count-in", "--click", "--json"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)["settings"]
    assert record["request"]["loop"] == {"bars": 2, "repeats": 2, "turnaround": False}
    assert record["output"]["practice"] == {"tempo_percent": 50.0, "count_in": True,
                                            "click": True, "loop": True}
    song = _song(out.read_bytes())
    assert song.length == pytest.approx((1 + 4) * 4)  # five bars at 60 bpm
    practice = Practice(**record["output"]["practice"])
    assert riff_midi(regenerate(record), practice=practice) == out.read_bytes()
    for extra, message in [(["--bars", "4", "--loop-bars", "2"], "two lengths"),
                           (["--repeats", "2"], "repeats need a loop length"),
                           (["--loop-bars", "2", "--practice-tempo", "300"], "25 to 200")]:
        assert main(["generate", "--model", str(runs["seed"]), "--out", str(tmp_path / "x.mid"),
                     *extra]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.mid").exists()


def test_output_options_with_practice_round_trip_through_a_record():
    options = OutputOptions(program=29, tempo_bpm=96.0,
                            practice=Practice(tempo_percent=70.0, count_in=True, click=True))
    record = json.loads(json.dumps(options.to_dict()))  # as settings.json keeps it
    assert OutputOptions.from_dict(record) == options
    older = {k: v for k, v in record.items() if k != "practice"}
    assert OutputOptions.from_dict(older).practice == Practice()
