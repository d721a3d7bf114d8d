"""The home page through streamlit's AppTest: pick a dataset, scan it, see the counts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from deeprock import settings
from tests.test_scan import write_song

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def dataset(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DEEPROCK_SETTINGS", str(tmp_path / "settings.json"))
    monkeypatch.chdir(ROOT)
    folder = tmp_path / "songs"
    for i in range(3):
        write_song(folder / f"band/song{i}.mid", pitch=40 + i)
    (folder / "broken.mid").write_bytes(b"MThd garbage")
    settings.save(settings.Settings(str(folder), str(tmp_path / "songs.sqlite")))
    return folder


def scan_button(app: AppTest):
    return next(button for button in app.button if button.label == "Scan")


def test_home_scans_and_shows_counts(dataset):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert "No catalog yet" in app.info[0].value and "4 MIDI files" in app.info[0].value
    scan_button(app).click().run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Files"] == "4" and metrics["Failed"] == "1" and metrics["Guitar files"] == "3"
    assert "Scanned 4 files" in app.success[0].value
    assert "3 ok, 0 recovered, 1 failed" in app.success[0].value


def test_home_explains_a_missing_folder(dataset, tmp_path):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.text_input[0].input(str(tmp_path / "nowhere"))
    scan_button(app).click().run()
    assert not app.exception
    assert "is not a folder" in app.error[0].value
    assert settings.load().dataset == str(tmp_path / "nowhere")


def test_app_routes_to_the_home_page(dataset):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == "DeepRock Studio"


@pytest.mark.parametrize(("page", "title"), [("train", "Train"), ("generate", "Generate")])
def test_every_page_is_routed(page, title, dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPROCK_MODELS", str(tmp_path / "models"))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.switch_page(f"pages/{page}.py").run()
    assert not app.exception and app.title[0].value == title


def test_home_detects_devices_on_demand(dataset):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    detect = next(button for button in app.button if button.label == "Detect CPU/GPU")
    detect.click().run()
    assert not app.exception
    text = " ".join(m.value for m in app.markdown)
    assert "TensorFlow 2." in text and ("GPU" in text or "CPU" in text)


HOME_WITHOUT_TENSORFLOW = """
import sys
from streamlit.testing.v1 import AppTest
from deeprock.training import jobs
jobs.describe_devices = lambda: "devices asked in a child process"  # the child imports TF
app = AppTest.from_file(sys.argv[1], default_timeout=120).run()
next(b for b in app.button if b.label == "Scan").click().run()
next(b for b in app.button if b.label == "Detect CPU/GPU").click().run()
assert not app.exception, app.exception
assert any("asked in a child" in m.value for m in app.markdown)
print(sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
"""


def test_home_page_imports_no_tensorflow(dataset):
    """In a fresh process (other tests import TensorFlow): scan, detect, and TF stays out."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", HOME_WITHOUT_TENSORFLOW, str(ROOT / "app.py")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
