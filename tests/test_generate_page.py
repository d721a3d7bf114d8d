"""The Generate page in AppTest: no run yet, a riff from a tiny run, the gallery, light imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.generate_fixtures import shared_runs
from tests.test_riff_output import counted

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "generate.py")
APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def page_env(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DEEPROCK_MODELS", str(shared_runs()["models"]))
    monkeypatch.setenv("DEEPROCK_RIFFS", str(tmp_path / "riffs"))
    monkeypatch.setenv("DEEPROCK_SETTINGS", str(tmp_path / "settings.json"))
    return tmp_path


def test_without_runs_the_page_points_to_training_and_imports_no_tensorflow(tmp_path):
    script = ("import sys\nfrom streamlit.testing.v1 import AppTest\n"
              f"at = AppTest.from_file({PAGE!r}, default_timeout=60).run()\n"
              "print(json.dumps({'info': [i.value for i in at.info], "
              "'tf': 'tensorflow' in sys.modules, 'errors': len(at.exception)}))")
    env = {**os.environ, "DEEPROCK_MODELS": str(tmp_path / "none"),
           "DEEPROCK_SETTINGS": str(tmp_path / "settings.json")}
    done = subprocess.run([sys.executable, "-c", "import json\n" + script], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"info": [report["info"][0]], "tf": False, "errors": 0}
    assert "No trained run yet" in report["info"][0]


def _widget(widgets, label):
    return next(w for w in widgets if w.label == label)


def test_a_conditioned_run_generates_in_the_style_of_an_artist(page_env, monkeypatch):
    from deeprock.corpus.artists import ArtistRule, artist_of
    from deeprock.training.conditioning import ArtistTable
    from tests.generate_fixtures import tiny_run

    run = tiny_run(page_env / "models" / "styles", shared_runs()["catalog"], fit_batches=5,
                   condition="artist")
    monkeypatch.setenv("DEEPROCK_MODELS", str(page_env / "models"))
    table = ArtistTable.load(run / "artists.json")
    artist = next(name for name in table.ids if name != "any")
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    style = _widget(at.selectbox, "In the style of")
    assert style.value == "any" and style.options[0] == f"any ({table.files['any']} files)"
    style.set_value(artist).run()
    _widget(at.radio, "Primer").set_value("None").run()
    _widget(at.number_input, "Length (tokens)").set_value(20).run()
    _widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    [view] = at.session_state["generated_riffs"]["views"]
    assert view["record"]["request"]["artist"] == artist
    _widget(at.radio, "Primer").set_value("Dataset window").run()  # from the artist's songs
    _widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    [view] = at.session_state["generated_riffs"]["views"]
    source = view["record"]["primer"]["source"].split(" (tokens")[0]
    assert artist_of(source, ArtistRule()) in table.members(artist)


def test_generate_two_variations_then_save_to_the_gallery(page_env, monkeypatch):
    from deeprock.generation import midi_out
    from deeprock.tab import tab

    frets, midis = counted(monkeypatch, tab, "fret_chords"), counted(monkeypatch, midi_out,
                                                                      "riff_midi")
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert "In the style of" not in {s.label for s in at.selectbox}  # an unconditioned run
    _widget(at.radio, "Primer").set_value("None").run()
    _widget(at.slider, "Variations").set_value(2).run()
    # short riffs: an untrained model's rhythm is long gaps, and audio costs real time
    _widget(at.number_input, "Length (tokens)").set_value(30).run()
    _widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    headings = [h.value for h in at.subheader]
    assert [h.split(",")[0] for h in headings] == ["Variation 1: 30 tokens generated",
                                                  "Variation 2: 30 tokens generated"]
    tabs = [h.value for h in at.html]
    assert len(tabs) == 2 and all("E4|" in tab and "flex-wrap:wrap" in tab for tab in tabs)
    assert at.caption and "riff(s) in" in at.caption[0].value
    at.button(key="save-0").click().run()
    assert not at.exception and at.success
    saved = list((page_env / "riffs").glob("*/settings.json"))
    assert len(saved) == 1
    folder = saved[0].parent
    assert {p.name for p in folder.iterdir()} >= {"riff.mid", "tab.txt", "riff.gp5",
                                                  "riff.musicxml", "settings.json"}
    assert any(m.label == "Compare side by side" for m in at.multiselect)
    assert (len(frets), len(midis)) == (2, 2)  # one per variation: the save rebuilt neither
    gallery_downloads = {d.label for d in at.get("download_button")
                         if d.key.endswith(f"-gallery-{folder.name}")}
    assert gallery_downloads >= {"MIDI", "Tab", "Guitar Pro 5", "MusicXML"}
    at.button(key=f"regenerate-{folder.name}").click().run()
    assert not at.exception
    assert [i.value for i in at.info] == [f"Regenerated {folder.name} from its settings: "
                                          "the same riff as saved."]


def test_length_counts_the_generated_part_and_refuses_out_of_range(page_env):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _widget(at.radio, "Primer").set_value("Song from the catalog").run()
    _widget(at.radio, "Length in").set_value("bars").run()
    _widget(at.number_input, "Length (bars)").set_value(100000).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["A length of 100,000 bars is outside 1-128: choose "
                                           "one in that range."]
    assert _widget(at.button, "Generate").disabled
    assert _widget(at.number_input, "Length (bars)").value == 100000  # not silently replaced
    _widget(at.number_input, "Length (bars)").set_value(4).run()
    _widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    assert at.subheader[0].value.endswith("generated, 4 bars")
    primer = next(c.value for c in at.caption if c.value.startswith("After the primer"))
    assert "16 tokens" in primer  # the tiny run's window: the primer said apart
    assert "v generated" in at.html[0].value


def test_the_form_keeps_its_settings_across_pages(page_env):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/generate.py").run()
    _widget(at.radio, "Primer").set_value("None").run()
    _widget(at.radio, "Length in").set_value("bars").run()
    _widget(at.number_input, "Length (bars)").set_value(5).run()
    _widget(at.slider, "Tempo (bpm)").set_value(150).run()
    _widget(at.selectbox, "Meter").set_value("6/8").run()
    _widget(at.slider, "Top-p").set_value(0.8).run()
    _widget(at.checkbox, "Backing (drums and bass)").check().run()
    at.switch_page("pages/home.py").run()
    assert not [w for w in at.slider if w.label == "Tempo (bpm)"]
    at.switch_page("pages/generate.py").run()
    assert not at.exception
    assert (_widget(at.radio, "Primer").value, _widget(at.radio, "Length in").value,
            _widget(at.number_input, "Length (bars)").value,
            _widget(at.slider, "Tempo (bpm)").value, _widget(at.selectbox, "Meter").value,
            _widget(at.slider, "Top-p").value,
            _widget(at.checkbox, "Backing (drums and bass)").value) == (
        "None", "bars", 5, 150, "6/8", 0.8, True)


def _midi_at(bpm: float, meter: tuple[int, int] = (4, 4)) -> bytes:
    import io

    import mido

    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
                            mido.MetaMessage("time_signature", numerator=meter[0],
                                             denominator=meter[1]),
                            mido.Message("program_change", program=30)])
    for pitch in (40, 43, 45, 40, 47, 45):
        track += [mido.Message("note_on", note=pitch, velocity=90),
                  mido.Message("note_off", note=pitch, time=240)]
    song.tracks.append(track)
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()


def test_an_uploaded_primer_sets_the_tempo_which_stays_changeable(page_env):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _widget(at.radio, "Primer").set_value("Upload MIDI").run()
    uploader = at.get("file_uploader")[0]
    assert uploader.proto.max_upload_size_mb == 2 and not uploader.proto.help
    uploader.upload("slow.mid", _midi_at(97), "audio/midi").run()
    assert not at.exception and not at.error
    assert _widget(at.slider, "Tempo (bpm)").value == 97
    assert any("plays at 97 bpm" in c.value for c in at.caption)
    _widget(at.slider, "Tempo (bpm)").set_value(130).run()
    assert _widget(at.slider, "Tempo (bpm)").value == 130  # the same upload: the user's tempo


def test_an_uploaded_primers_meter_is_the_riffs_which_stays_changeable(page_env):
    import io

    import mido

    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _widget(at.radio, "Primer").set_value("Upload MIDI").run()
    at.get("file_uploader")[0].upload("waltz.mid", _midi_at(96, (3, 4)), "audio/midi").run()
    assert not at.exception and not at.error
    assert _widget(at.selectbox, "Meter").value == "3/4"
    assert any("waltz.mid plays at 96 bpm in 3/4: the riff starts there" in c.value
               for c in at.caption)
    _widget(at.number_input, "Length (tokens)").set_value(10).run()
    _widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    view = at.session_state["generated_riffs"]["views"][0]
    assert view["render"].options.meter == (3, 4) and view["record"]["output"]["meter"] == (3, 4)
    signature = next(m for m in mido.MidiFile(file=io.BytesIO(view["render"].mid)).tracks[0]
                     if m.type == "time_signature")
    assert (signature.numerator, signature.denominator) == (3, 4)
    assert view["figure"].layout.xaxis.minor.dtick == 3
    _widget(at.selectbox, "Meter").set_value("4/4").run()
    assert _widget(at.selectbox, "Meter").value == "4/4"  # the same upload: the user's meter
    at.get("file_uploader")[0].upload("jig.mid", _midi_at(96, (9, 8)), "audio/midi").run()
    meter = _widget(at.selectbox, "Meter")
    assert meter.value == "9/8" and meter.options[-1] == "9/8"  # its own, beside the common


def test_the_gallery_comparison_survives_saving_and_renaming(page_env):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _widget(at.radio, "Primer").set_value("None").run()
    _widget(at.slider, "Variations").set_value(3).run()
    _widget(at.number_input, "Length (tokens)").set_value(12).run()
    _widget(at.button, "Generate").click().run()
    at.button(key="save-0").click().run()
    at.button(key="save-1").click().run()
    compare = _widget(at.multiselect, "Compare side by side")
    compare.set_value(["riff-0-1", "riff-0-2"]).run()
    at.button(key="save-2").click().run()
    assert not at.exception
    assert _widget(at.multiselect, "Compare side by side").value == ["riff-0-1", "riff-0-2"]
    at.text_input(key="rename-riff-0-1").input("keeper").run()
    at.button(key="rename-button-riff-0-1").click().run()
    assert not at.exception
    assert _widget(at.multiselect, "Compare side by side").value == ["keeper", "riff-0-2"]


def test_bad_settings_show_an_error_not_a_crash(page_env):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    next(r for r in at.radio if r.label == "Primer").set_value("Song from the catalog").run()
    search = next(t for t in at.text_input if t.label == "Search songs")
    search.input("no such song anywhere").run()
    assert not at.exception
    assert any("matches" in w.value for w in at.warning)


def test_key_loop_and_practice_controls_reach_the_riff(page_env):
    import io

    import mido

    from deeprock.generation.scales import Key
    from deeprock.generation.stats import vocabulary_pitches

    at = AppTest.from_file(PAGE, default_timeout=120).run()
    _widget(at.radio, "Primer").set_value("None").run()
    _widget(at.selectbox, "Key (auto: the primer's)").set_value("E").run()
    _widget(at.selectbox, "Scale").set_value("minor-pentatonic").run()
    _widget(at.checkbox, "Strict (only in-scale notes)").check().run()
    _widget(at.number_input, "Loop length in bars (0 = free)").set_value(2).run()
    _widget(at.number_input, "Play the loop K times").set_value(3).run()
    _widget(at.checkbox, "Click track").check().run()
    _widget(at.slider, "Playback tempo (% of the riff's)").set_value(50).run()
    _widget(at.slider, "Repeat the bar (0 = off)").set_value(4.0).run()
    _widget(at.button, "Generate").click().run()
    assert not at.exception and not at.error
    assert "Key: E minor-pentatonic (chosen)." in [i.value for i in at.info]
    render = at.session_state["generated_riffs"]["views"][0]["render"]
    allowed = Key.parse("E", "minor-pentatonic").pitch_classes()
    pitches = [p for chord in vocabulary_pitches(render.riff.generated().tokens) for p in chord]
    assert pitches and all(allowed[p % 12] for p in pitches)
    song = mido.MidiFile(file=io.BytesIO(render.mid))
    tempos = [m.tempo for t in song.tracks for m in t if m.type == "set_tempo"]
    assert mido.tempo2bpm(tempos[0]) == pytest.approx(60.0)  # 50 % of 120
    assert any(m.type == "note_on" and m.channel == 9 for t in song.tracks for m in t)
    record = at.session_state["generated_riffs"]["views"][0]["record"]
    assert record["request"]["loop"] == {"bars": 2, "repeats": 3, "turnaround": True}
    assert record["request"]["sampling"]["repeat_bias"] == 4.0
    assert render.riff.generated().end_twelfths() <= 2 * 3 * 48
