"""Shared fixtures: small MIDI files built with mido, music21's bundled files, the shared corpus."""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import mido
import pytest

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "deeprock"
# what a schema brought besides MIGRATIONS' columns: objects of SCHEMA itself (views first)
SCHEMA_OBJECTS = {3: ("VIEW user_labels", "TABLE labels"),
                  5: ("TABLE dedup_files", "TABLE dedup_bands", "TABLE dedup_pairs",
                      "TABLE dedup_common"),
                  6: ("TABLE dedup_counts", "TABLE dedup_state"),
                  7: ("INDEX files_by_md5", "INDEX files_by_content", "INDEX files_by_transposed",
                      "INDEX files_by_stem", "TRIGGER files_inserted", "TRIGGER files_deleted",
                      "TABLE dedup_changes", "TABLE dedup_sharing", "INDEX dedup_unindexed")}
SCHEMA_META = {7: ("dedup_logged",)}  # meta keys that a schema's code writes
ADDED_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+) \w+")
FILLED_COLUMN = re.compile(r"UPDATE \w+ SET \w+ = .*")  # undone with its column


def midi_bytes(tracks: list[list[mido.Message | mido.MetaMessage]], ticks_per_beat: int = 480,
               midi_type: int = 1) -> bytes:
    """A MIDI file from per-track message lists (times are deltas in ticks)."""
    song = mido.MidiFile(type=midi_type, ticks_per_beat=ticks_per_beat)
    for messages in tracks:
        song.tracks.append(mido.MidiTrack(messages))
    buffer = io.BytesIO()
    song.save(file=buffer)
    return buffer.getvalue()


def notes(*events: tuple[int, int, int], channel: int = 0, program: int | None = 29,
          name: str | None = "Guitar") -> list:
    """Messages for (onset tick, pitch, duration ticks) notes; overlapping allowed."""
    timeline = []
    for onset, pitch, duration in events:
        timeline.append((onset, 1, mido.Message("note_on", channel=channel, note=pitch,
                                                velocity=90)))
        timeline.append((onset + duration, 0, mido.Message("note_off", channel=channel,
                                                           note=pitch)))
    timeline.sort(key=lambda item: (item[0], item[1]))
    messages: list = []
    if name is not None:
        messages.append(mido.MetaMessage("track_name", name=name))
    if program is not None:
        messages.append(mido.Message("program_change", channel=channel, program=program))
    now = 0
    for tick, _, message in timeline:
        messages.append(message.copy(time=tick - now))
        now = tick
    return messages


@pytest.fixture(scope="session")
def music21_midi_files() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("music21")
    folder = Path(spec.origin).parent / "midi" / "testPrimitive"
    files = sorted(folder.glob("*.mid"))
    assert files, "music21 ships its test MIDI files"
    return files


@pytest.fixture
def shared_corpus() -> Path:
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus/deeprock is not present")
    return SHARED_CORPUS


@pytest.fixture
def old_catalog() -> Callable[[Path, int], Path]:
    """Rewrite a catalog as schema `version` wrote it: each later migration undone (its tables,
    indexes and meta keys, then its columns from catalog.MIGRATIONS), then the version stated;
    above the current schema, only the number changes (a catalog from a newer DeepRock)."""
    from deeprock.corpus.catalog import MIGRATIONS, SCHEMA_VERSION

    def downgrade(path: Path, version: int) -> Path:
        db = sqlite3.connect(path)
        with db:
            for step in range(SCHEMA_VERSION, version, -1):
                for item in SCHEMA_OBJECTS.get(step, ()):
                    db.execute(f"DROP {item}")
                for key in SCHEMA_META.get(step, ()):
                    db.execute("DELETE FROM meta WHERE key = ?", (key,))
                for statement in MIGRATIONS[step]:
                    added = ADDED_COLUMN.fullmatch(statement)
                    assert added or FILLED_COLUMN.fullmatch(statement), (
                        f"old_catalog cannot undo {statement!r}: teach it")
                    if added:
                        db.execute(f"ALTER TABLE {added[1]} DROP COLUMN {added[2]}")
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(version),))
        db.close()
        return path

    return downgrade


@pytest.fixture(scope="module")
def runs() -> dict:
    """The tiny runs of every architecture (tests/generate_fixtures.py), trained once a session."""
    from tests.generate_fixtures import shared_runs

    return shared_runs()


@pytest.fixture(scope="module")
def loaded(runs) -> dict:
    from deeprock.generation.generate import load_run

    return {arch: load_run(runs[arch]) for arch in ("deeprock", "seed")}


def timed_messages(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    """(absolute tick, message) for each message of a track (mido stores deltas)."""
    now, timed = 0, []
    for message in track:
        now += message.time
        timed.append((now, message))
    return timed
