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


def test_generate_two_variations_then_save_to_the_gallery(page_env, monkeypatch):
    from deeprock.generation import midi_out
    from deeprock.tab import tab

    frets, midis = counted(monkeypatch, tab, "fret_chords"), counted(monkeypatch, midi_out,
                                                                      "riff_midi")
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    primer = next(r for r in at.radio if r.label == "Primer")
    primer.set_value("None").run()
    next(s for s in at.slider if s.label == "Variations").set_value(2).run()
    # short riffs: an untrained model's rhythm is long gaps, and audio costs real time
    next(n for n in at.number_input if n.label == "Length (tokens)").set_value(30).run()
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception and not at.error
    assert [h.value for h in at.subheader][:2] == ["Variation 1: 30 tokens",
                                                   "Variation 2: 30 tokens"]
    tabs = [c.value for c in at.code]
    assert len(tabs) == 2 and all("|" in tab for tab in tabs)
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


def test_bad_settings_show_an_error_not_a_crash(page_env):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    next(r for r in at.radio if r.label == "Primer").set_value("Song from the catalog").run()
    search = next(t for t in at.text_input if t.label == "Search songs")
    search.input("no such song anywhere").run()
    assert not at.exception
    assert any("matches" in w.value for w in at.warning)
