"""The riff's meter: every file in its bars (MIDI, MusicXML, GP5, tab, piano roll), lengths and
loops in its bars, settings.json before it, and the CLI's --meter."""

from __future__ import annotations

import io
import json

import guitarpro
import mido
import pytest

from deeprock.generation import riff_view
from deeprock.generation.generate import GenerationRequest, generate, load_run, regenerate
from deeprock.generation.loop import LoopSettings
from deeprock.generation.outputs import OutputOptions, RiffRender, parse_meter
from deeprock.generation.practice import CLICK_PITCHES, Practice
from deeprock.generation.primers import Primer
from deeprock.generation.roll import riff_roll
from deeprock.music.midi import load_bytes
from deeprock.music.tokens import tokenize
from tests.conftest import timed_messages
from tests.test_riff_output import pitched, riff_of

TICKS_PER_TWELFTH = 40
WALTZ = OutputOptions(meter=(3, 4))


def _song(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


# --- the files -------------------------------------------------------------------------------

def test_a_3_4_riffs_midi_says_3_4_at_tick_0_and_its_notes_land_in_bars_of_36():
    riff = riff_of(40, seed=2)
    data = RiffRender(riff, WALTZ).mid
    signatures = [(tick, m.numerator, m.denominator)
                  for tick, m in timed_messages(_song(data).tracks[0])
                  if m.type == "time_signature"]
    assert signatures == [(0, 3, 4)]
    song = load_bytes(data, "riff.mid")
    assert song.meters == [(0, 3, 4)]
    (track,) = pitched(song)
    stream = tokenize(song, track)  # our own scan reads it back in bars of 36
    onsets = riff.onsets_twelfths()
    assert stream.tokens == riff.tokens
    assert stream.position_twelfths.tolist() == (onsets % 36).tolist()
    assert stream.bar.tolist() == (onsets // 36).tolist()
    downbeats = track.notes["velocity"] == track.notes["velocity"].max()
    starts = track.notes["start"] // TICKS_PER_TWELFTH
    assert set((starts[downbeats] % 36).tolist()) == {0}  # accents on the 3/4 downbeats


def test_count_in_click_and_backing_fill_bars_of_the_meter():
    riff = riff_of(30, seed=5)
    options = OutputOptions(meter=(6, 8), backing=True,
                            practice=Practice(count_in=True, click=True))
    song = _song(RiffRender(riff, options).mid)
    bar_ticks = 36 * TICKS_PER_TWELFTH
    signature = next(m for m in song.tracks[0] if m.type == "time_signature")
    assert (signature.numerator, signature.denominator, signature.clocks_per_click) == (6, 8, 12)
    tracks = {track.name: track for track in song.tracks}
    guitar = [tick for tick, m in timed_messages(tracks["Guitar"]) if m.type == "note_on"]
    assert guitar[0] == bar_ticks  # after one count-in bar of 6/8
    clicks = [(tick, m.note) for tick, m in timed_messages(tracks["Click"]) if m.type == "note_on"]
    assert [tick for tick, _ in clicks[:7]] == [240 * k for k in range(7)]  # one an eighth
    assert all((note == CLICK_PITCHES[0]) == (tick % bar_ticks == 0) for tick, note in clicks)
    ends = {sum(m.time for m in track) for track in song.tracks}
    assert len(ends) == 1 and ends.pop() % bar_ticks == 0


def test_musicxml_parsed_back_by_music21_is_in_3_4():
    from fractions import Fraction

    from music21 import converter

    riff = riff_of(20, seed=1)
    score = converter.parseData(RiffRender(riff, WALTZ).musicxml, format="musicxml")
    part = score.parts[0]
    assert [ts.ratioString for ts in part.recurse().getElementsByClass("TimeSignature")] == \
        ["3/4"]
    measures = list(part.getElementsByClass("Measure"))
    assert all(m.barDuration.quarterLength == 3 for m in measures)
    assert len(measures) == -(-riff.end_twelfths() // 36)
    starts = {Fraction(n.getOffsetInHierarchy(part)).limit_denominator(12)
              for n in part.recurse().notes if n.tie is None or n.tie.type == "start"}
    assert starts == {Fraction(int(onset), 12) for onset in riff.onsets_twelfths()}


def test_gp5_measure_headers_say_3_4_and_each_bar_holds_three_quarters():
    riff = riff_of(30, seed=3, primer_length=0)
    song = guitarpro.parse(io.BytesIO(RiffRender(riff, WALTZ).gp5))
    headers = song.measureHeaders
    assert len(headers) == int(riff.onsets_twelfths()[-1]) // 36 + 1
    assert {(h.timeSignature.numerator, h.timeSignature.denominator.value)
            for h in headers} == {(3, 4)}
    onsets = []
    for number, measure in enumerate(song.tracks[0].measures):
        now = 0
        for beat in measure.voices[0].beats:
            if beat.notes:
                onsets.append(number * 36 + now // 80)  # 960 GP ticks a quarter
            now += beat.duration.time
        assert now == 3 * 960
    assert onsets == riff.onsets_twelfths().tolist()


def test_the_tab_roll_and_heading_count_bars_of_the_meter():
    riff = riff_of(40, seed=4, primer_length=0)
    render = RiffRender(riff, WALTZ)
    bars = int(riff.onsets_twelfths()[-1]) // 36 + 1
    system = render.tab_systems(bars_per_line=bars)[0]
    string_line = system.splitlines()[1]  # below the ruler of bar numbers
    cells = [len(part) for part in string_line.split("|")[1:-1]]
    width = cells[0] // 12  # 12 sixteenths a 3/4 bar
    assert cells == [12 * width] * bars
    axis = riff_roll(riff, meter=(3, 4)).layout.xaxis
    assert axis.minor.dtick == 3 and "3/4" in axis.title.text
    heading, _ = riff_view.lengths(riff, WALTZ)
    assert heading.endswith(f"{bars} bars")


def test_meters_round_trip_old_settings_load_in_4_4_and_bad_ones_say_why():
    options = OutputOptions(tempo_bpm=96, meter=parse_meter("7/8"))
    again = OutputOptions.from_dict(json.loads(json.dumps(options.to_dict())))
    assert again == options and again.meter == (7, 8) and again.bar_twelfths == 42
    old = {key: value for key, value in OutputOptions().to_dict().items() if key != "meter"}
    assert OutputOptions.from_dict(old).meter == (4, 4)
    for text, message in [("3/5", "power of two"), ("3/64", "power of two"),
                          ("0/4", "numerator of 1 to 32"), ("33/4", "numerator of 1 to 32"),
                          ("3/32", "whole number of twelfths"), ("three", "NUMERATOR/")]:
        with pytest.raises(ValueError, match=message):
            parse_meter(text)
    with pytest.raises(ValueError, match="power of two"):
        OutputOptions(meter=(3, 5))


# --- lengths and loops -----------------------------------------------------------------------

def test_bars_and_loops_count_bars_of_the_meter_and_regenerate(runs):
    run = load_run(runs["deeprock"])
    riff = generate(run, Primer.none(), GenerationRequest(length_bars=2, seed=3,
                                                          bar_twelfths=36)).riffs[0]
    assert riff.onsets_twelfths()[-1] < 2 * 36
    request = GenerationRequest(seed=5, loop=LoopSettings(2, 2), bar_twelfths=36)
    looped = generate(run, Primer.none(), request).riffs[0]
    assert looped.end_twelfths() == 2 * 2 * 36  # the loop ends on its 3/4 bar line
    record = {"run": str(run.path), "primer": Primer.none().describe(),
              "request": json.loads(json.dumps(request.to_dict())), "variation": 0}
    assert regenerate(record, run) == looped
    old = {key: value for key, value in request.to_dict().items() if key != "bar_twelfths"}
    assert GenerationRequest.from_dict(old).bar_twelfths == 48  # saved before: 4/4 bars


def test_cli_meter_reaches_every_file_and_a_bad_one_names_the_option(runs, tmp_path, capsys):
    from deeprock.cli import main

    out = tmp_path / "waltz.mid"
    code = main(["generate", "--model", str(runs["deeprock"]), "--out", str(out),
                 "--primer", "none", "--meter", "3/4", "--bars", "2", "--seed", "1",
                 "--gp5", str(tmp_path / "waltz.gp5"), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["output"]["meter"] == [3, 4]
    assert report["settings"]["request"]["bar_twelfths"] == 36
    assert load_bytes(out.read_bytes(), "waltz.mid").meters == [(0, 3, 4)]
    header = guitarpro.parse(str(tmp_path / "waltz.gp5")).measureHeaders[0]
    assert (header.timeSignature.numerator, header.timeSignature.denominator.value) == (3, 4)
    bad = tmp_path / "bad.mid"
    assert main(["generate", "--model", str(runs["deeprock"]), "--out", str(bad),
                 "--meter", "3/5"]) == 2
    error = capsys.readouterr().err
    assert "--meter 3/5" in error and "power of two" in error and len(error.splitlines()) == 1
    assert not bad.exists()
