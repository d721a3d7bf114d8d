"""Scanning folders into the catalog: contents, incremental runs, resume, bad input, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deeprock.cli import main
from deeprock.corpus import catalog, scan
from tests.conftest import midi_bytes, notes

ROOT = Path(__file__).resolve().parents[1]


def write_song(path: Path, pitch: int = 40, program: int | None = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    guitar = notes((0, pitch, 240), (240, pitch + 7, 240), (480, pitch + 12, 480),
                   program=program, name="Gtr" if program is None else "Lead")
    bass = notes((0, pitch - 12, 960), channel=1, program=33, name="Bass")
    path.write_bytes(midi_bytes([guitar, bass]))


@pytest.fixture
def collection(tmp_path, music21_midi_files) -> Path:
    root = tmp_path / "midi"
    (root / "m21").mkdir(parents=True)
    for source in music21_midi_files[:6]:
        shutil.copy(source, root / "m21" / source.name)
    write_song(root / "rock/Song_1.mid")
    write_song(root / "rock/Song_2.MID", pitch=45)
    write_song(root / "rock/NoProgram.midi", program=None)
    return root


def dump(path: Path) -> dict:
    """The catalog's content without row ids, comparable across runs."""
    db = sqlite3.connect(path)
    files = db.execute("SELECT root, path, size, md5, status, repairs, error FROM files "
                       "ORDER BY path").fetchall()
    tracks = db.execute("SELECT f.path, t.idx, t.channel, t.program, t.guitar, t.notes FROM "
                        "tracks t JOIN files f ON f.id = t.file_id ORDER BY 1, 2, 3").fetchall()
    streams = db.execute("SELECT f.path, s.idx, s.channel, s.ids, s.delta FROM streams s "
                         "JOIN files f ON f.id = s.file_id ORDER BY 1, 2, 3").fetchall()
    vocabulary = db.execute("SELECT id, token FROM vocabulary ORDER BY id").fetchall()
    counts = db.execute("SELECT (SELECT COUNT(*) FROM files), (SELECT COUNT(*) FROM tracks)"
                        ).fetchone()
    db.close()
    return {"files": files, "tracks": tracks, "streams": streams, "vocabulary": vocabulary,
            "counts": counts}


def test_scan_fills_files_tracks_and_guitar_tokens(collection, tmp_path):
    report = scan.scan([collection], tmp_path / "c.sqlite", jobs=2)
    assert (report.files, report.new, report.failed) == (9, 9, 0)
    with catalog.Catalog(tmp_path / "c.sqlite") as cat:
        files = {f["path"]: f for f in cat.files()}
        assert set(files) >= {"rock/Song_1.mid", "rock/Song_2.MID", "rock/NoProgram.midi"}
        song = files["rock/Song_1.mid"]
        assert song["status"] == "ok" and len(song["md5"]) == 32 and song["ticks_per_beat"] == 480
        tracks = cat.tracks(song["id"])
        assert [(t["channel"], t["program"], t["guitar"]) for t in tracks] == [
            (0, 30, 1), (1, 33, 0)]
        named = cat.tracks(files["rock/NoProgram.midi"]["id"])[0]
        assert named["program"] is None and named["guitar_reason"].startswith("no program")
        streams = [s for s in cat.streams() if s.file_id == song["id"]]
        assert cat.vocabulary.decode(streams[0].ids) == ["E2", "B2", "E3"]
        assert streams[0].delta.tolist() == [0, 6, 6]


def test_rescan_is_incremental_and_notices_changes(collection, tmp_path):
    path = tmp_path / "c.sqlite"
    scan.scan([collection], path)
    again = scan.scan([collection], path)
    assert (again.new, again.unchanged) == (0, 9)
    write_song(collection / "rock/Song_1.mid", pitch=50)
    os.utime(collection / "rock/Song_1.mid", ns=(1, 1))
    (collection / "rock/Song_2.MID").unlink()
    third = scan.scan([collection], path)
    assert (third.new, third.unchanged, third.removed, third.files) == (1, 7, 1, 8)


def test_bad_input_is_reported_and_the_scan_finishes(tmp_path):
    root = tmp_path / "bad"
    write_song(root / "good.mid")
    (root / "empty.mid").write_bytes(b"")
    (root / "text.mid").write_bytes(b"not a midi file at all")
    (root / "folder.mid").mkdir()
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "dangling.mid").symlink_to(root / "nowhere.mid")
    locked = root / "locked"
    locked.mkdir()
    write_song(locked / "hidden.mid")
    locked.chmod(0)
    try:
        report = scan.scan([root], tmp_path / "c.sqlite", jobs=1)
    finally:
        locked.chmod(0o755)
    errors = {Path(f["path"]).name: f["error"] for f in report.failures + report.problems}
    assert errors["empty.mid"] == "empty file (0 bytes)"
    assert "no MThd" in errors["text.mid"]
    assert "No such file" in errors["dangling.mid"]
    if os.geteuid() != 0:  # root reads a chmod-0 folder anyway
        assert "cannot list" in errors["locked"]
    assert report.ok >= 1 and "folder.mid" not in errors


def test_file_vanishing_during_the_scan_is_a_failed_row(collection, tmp_path, monkeypatch):
    victim = collection / "rock/Song_1.mid"
    original = scan.analyze

    def analyze_after_delete(root: str, path: str) -> dict:
        victim.unlink(missing_ok=True)
        return original(root, path)

    monkeypatch.setattr(scan, "analyze", analyze_after_delete)
    report = scan.scan([collection], tmp_path / "c.sqlite", jobs=1)
    assert any("No such file" in f["error"] for f in report.failures)
    assert report.files == 9


def test_unwritable_catalog_is_a_clear_error_and_keeps_old_content(
    collection, tmp_path, capsys, monkeypatch
):
    path = tmp_path / "c.sqlite"
    scan.scan([collection], path)
    before = dump(path)
    assert main(["scan", str(collection), "--catalog", str(tmp_path / "no/such/dir/c.sqlite")]) == 2
    assert "cannot use catalog" in capsys.readouterr().err
    assert main(["scan", str(collection), "--catalog", str(tmp_path)]) == 2

    def disk_full(self, record):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(catalog.Catalog, "put_file", disk_full)
    write_song(collection / "rock/New.mid")
    assert main(["scan", str(collection), "--catalog", str(path)]) == 2
    assert "disk is full" in capsys.readouterr().err
    assert dump(path) == before


def test_killed_scan_resumes_to_the_same_catalog(tmp_path, music21_midi_files):
    root = tmp_path / "many"
    for i in range(300):
        write_song(root / f"band{i % 7}/song{i}.mid", pitch=30 + i % 40)
    reference = tmp_path / "reference.sqlite"
    scan.scan([root], reference, jobs=2)
    resumed = tmp_path / "resumed.sqlite"
    command = [sys.executable, "-m", "deeprock.cli", "scan", str(root), "--catalog",
               str(resumed), "--jobs", "2", "--json"]
    env = {**os.environ, "DEEPROCK_SCAN_BATCH": "10"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        if resumed.exists() and _count_files(resumed) >= 20:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    partial = _count_files(resumed)
    report = json.loads(subprocess.run(command, cwd=ROOT, env=env, check=True,
                                       capture_output=True, text=True).stdout)
    assert report["unchanged"] == partial and report["new"] == 300 - partial
    assert dump(resumed) == dump(reference)


def _count_files(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        return db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_cli_json_contract(collection, tmp_path, capsys):
    path = str(tmp_path / "c.sqlite")
    assert main(["scan", str(collection), "--catalog", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"files", "new", "unchanged", "ok", "recovered", "failed", "seconds"} <= set(report)
    song = str(collection / "rock/Song_1.mid")
    assert main(["inspect", song, "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["path"] == song and one["status"] == "ok" and one["error"] is None
    track = one["tracks"][0]
    assert set(track) == {"index", "channel", "program", "name", "is_drum", "notes", "guitar",
                          "guitar_source", "guitar_probability", "tokens"}
    assert track["tokens"] == ["E2", "B2", "E3"] and track["guitar_source"] == "metadata"
    assert main(["inspect", song, str(collection / "rock/NoProgram.midi"), "--json"]) == 0
    many = json.loads(capsys.readouterr().out)
    assert [m["tracks"][0]["program"] for m in many] == [30, None]
    assert main(["scan", str(tmp_path / "missing"), "--catalog", path]) == 2


def test_scan_command_does_not_import_heavy_libraries(collection, tmp_path):
    code = ("import sys; from deeprock.cli import main; "
            f"main(['scan', {str(collection)!r}, '--catalog', {str(tmp_path / 'c.sqlite')!r}, "
            "'--json']); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'music21') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.corpus
def test_shared_corpus_scan(shared_corpus, tmp_path):
    report = scan.scan([shared_corpus], tmp_path / "c.sqlite", jobs=2)
    assert report.files == 1181 and report.failed == 0 and report.recovered > 30
    with catalog.Catalog(tmp_path / "c.sqlite") as cat:
        summary = cat.summary()
    assert summary["guitar_files"] > 900 and summary["vocabulary"] > 1000


def test_catalog_of_schema_1_is_migrated_and_rescanned(collection, tmp_path, old_catalog):
    path = tmp_path / "old.sqlite"
    scan.scan([collection], path)
    old_catalog(path, 1)
    with catalog.Catalog(path) as cat:
        assert cat.stale_files() == 9 and len(cat.files()) == 9
    report = scan.scan([collection], path)
    assert (report.new, report.unchanged) == (9, 0)
    with catalog.Catalog(path) as cat:
        assert cat.stale_files() == 0
    old_catalog(path, catalog.SCHEMA_VERSION + 1)
    with pytest.raises(catalog.CatalogError, match=f"schema {catalog.SCHEMA_VERSION + 1}"):
        catalog.Catalog(path)


def test_schema_3_catalog_gains_bar_positions_on_the_next_scan(collection, tmp_path,
                                                               old_catalog):
    import mido

    from deeprock.corpus.health import health_report

    meter = [mido.MetaMessage("time_signature", numerator=3, denominator=4)]
    guitar = notes(*[(480 * beat, 40, 240) for beat in range(7)], program=30)
    (collection / "rock/Waltz.mid").write_bytes(midi_bytes([meter, guitar]))
    path = tmp_path / "old.sqlite"
    scan.scan([collection], path)
    with catalog.Catalog(path) as cat:
        before = health_report(cat)
    old_catalog(path, 3)
    with catalog.Catalog(path) as cat:  # upgraded: marked for parsing, health still answers
        assert cat.stale_files() == 10 and health_report(cat) == before
        assert all(s.position is None and s.bar is None for s in cat.streams())
    assert main(["health", "--catalog", str(path), "--json"]) == 0
    scan.scan([collection], path)
    with catalog.Catalog(path) as cat:
        assert cat.stale_files() == 0
        waltz = next(f["id"] for f in cat.files() if f["path"] == "rock/Waltz.mid")
        stream = next(s for s in cat.streams() if s.file_id == waltz)
        assert stream.meters == [(0, 3, 4)]
        assert stream.position.tolist() == [0, 12, 24, 0, 12, 24, 0]
        assert stream.bar.tolist() == [0, 0, 0, 1, 1, 1, 2]
        assert all(len(s.position) == len(s.ids) == len(s.bar) for s in cat.streams())


def columns(path: Path) -> set[tuple[str, str]]:
    db = sqlite3.connect(path)
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master")]
    found = {(table, row[1]) for table in tables
             for row in db.execute(f"PRAGMA table_info('{table}')")}
    db.close()
    return found


def test_every_older_schema_migrates_to_what_a_new_scan_writes(collection, tmp_path,
                                                                old_catalog):
    """The one downgrade (conftest's old_catalog) really removes what each schema added."""
    fresh = tmp_path / "fresh.sqlite"
    scan.scan([collection], fresh, jobs=1)
    for version in range(min(catalog.MIGRATIONS) - 1, catalog.SCHEMA_VERSION):
        path = tmp_path / f"schema{version}.sqlite"
        shutil.copyfile(fresh, path)
        assert columns(old_catalog(path, version)) < columns(fresh)
        catalog.Catalog(path).close()
        assert columns(path) == columns(fresh), version
    undo = "DROP" + " COLUMN"  # split, so that this file does not match itself
    tests = Path(__file__).parent
    assert [p.name for p in tests.glob("*.py") if undo in p.read_text()] == ["conftest.py"]


SLOW_SCAN = ("import sys, time; from deeprock.corpus import scan; "
             "scan.scan([sys.argv[1]], sys.argv[2], jobs=1, "
             "progress=lambda done, total: time.sleep(0.4))")


def start_slow_scan(collection: Path, path: Path) -> subprocess.Popen:
    """A real scan in its own process, slowed to hold the catalog's lock for a few seconds."""
    first = subprocess.Popen([sys.executable, "-c", SLOW_SCAN, str(collection), str(path)],
                             cwd=ROOT)
    lock = Path(str(path) + ".lock")
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
        assert time.monotonic() < deadline and first.poll() is None, "first scan never started"
        time.sleep(0.05)
    return first


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deeprock.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_second_scan_refuses_or_waits_and_the_catalog_stays_whole(collection, tmp_path):
    path = tmp_path / "c.sqlite"
    first = start_slow_scan(collection, path)
    refused = run_cli("scan", str(collection), "--catalog", str(path), "--json")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip() == (
        f"deeprock scan: the scan with pid {first.pid} is writing {path}; try again when it "
        "has finished (or scan with --wait to queue behind it)")
    waited = run_cli("scan", str(collection), "--catalog", str(path), "--wait", "--json")
    assert first.wait(timeout=60) == 0
    assert waited.returncode == 0, waited.stderr
    assert f"waiting for the scan with pid {first.pid} to finish" in waited.stderr
    report = json.loads(waited.stdout)
    assert (report["new"], report["unchanged"]) == (0, 9)
    scan.scan([collection], tmp_path / "alone.sqlite")
    assert dump(path) == dump(tmp_path / "alone.sqlite")


def test_scan_lock_is_released_by_a_killed_scan(collection, tmp_path):
    path = tmp_path / "c.sqlite"
    first = start_slow_scan(collection, path)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert scan.scan([collection], path).files == 9


def test_home_scan_button_says_another_scan_is_writing(collection, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from deeprock import settings
    from deeprock.corpus.scanlock import scan_lock

    monkeypatch.setenv("DEEPROCK_SETTINGS", str(tmp_path / "settings.json"))
    monkeypatch.chdir(ROOT)
    path = tmp_path / "c.sqlite"
    settings.save(settings.Settings(str(collection), str(path)))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    with scan_lock(path):  # this process plays the other scan
        next(b for b in app.button if b.label == "Scan").click().run()
    assert not app.exception
    assert app.warning[0].value == (f"Not scanned: the scan with pid {os.getpid()} is writing "
                                    f"{path}; try again when it has finished.")


def test_a_scan_forks_its_workers_only_from_a_single_threaded_process():
    """A fork beside other threads (TensorFlow's, the Streamlit server's) can copy a held lock
    into the worker and hang it: a suite run stopped so once."""
    import threading

    code = "from deeprock.corpus.scan import default_start; print(default_start())"
    alone = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=ROOT)
    assert alone.stdout.strip() == "fork"
    loaded = code.replace("from", "import tensorflow\nfrom", 1)
    with_tf = subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True,
                             check=True, cwd=ROOT)
    assert with_tf.stdout.strip().splitlines()[-1] == "spawn"
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert scan.default_start() == "spawn"
    finally:
        release.set()
        other.join()
