"""Window statistics: counts against the post's check_data done by brute force, on streams and
on a scanned catalog; windows stay inside a track; selections narrow; examples are what they say.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeprock.corpus import scan
from deeprock.corpus.catalog import Catalog
from deeprock.corpus.windows import WindowStats, windows_summary
from tests.conftest import midi_bytes, notes


def brute_force(streams: list, seq_len: int, unique_factor: int) -> tuple[list, list]:
    """Per track (kept, total): every X = ids[i:i+seq_len] with a next token Y, as the post."""
    kept, total = [], []
    for ids in streams:
        windows = [ids[i : i + seq_len] for i in range(len(ids) - seq_len)]
        kept.append(sum(len(set(map(int, w))) > unique_factor for w in windows))
        total.append(len(windows))
    return kept, total


def looping_streams(seed: int, tracks: int = 6) -> list[np.ndarray]:
    """Riffs repeated with a few changes, so that unique_factor keeps some windows, not all."""
    rng = np.random.default_rng(seed)
    streams = []
    for _ in range(tracks):
        riff = rng.integers(0, 40, rng.integers(1, 9))
        loop = np.tile(riff, rng.integers(1, 12))
        changed = rng.random(len(loop)) < 0.2
        loop[changed] = rng.integers(0, 40, changed.sum())
        streams.append(loop.astype(np.int32))
    return streams


def assert_matches_brute_force(stats: WindowStats, streams: list, unique_factor: int) -> None:
    kept, total = brute_force(streams, stats.seq_len, unique_factor)
    assert stats.total == sum(total)
    assert stats.kept(unique_factor) == sum(kept)
    per_kept, per_total = stats.per_track(unique_factor)
    assert per_kept.tolist() == kept and per_total.tolist() == total


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("seq_len", [1, 2, 5, 16, 200])
def test_counts_match_brute_force(seed, seq_len):
    streams = looping_streams(seed)
    stats = WindowStats.from_streams(streams, seq_len)
    for unique_factor in [-1, 0, 1, 2, 3, 5, seq_len - 1, seq_len, seq_len + 3]:
        assert_matches_brute_force(stats, streams, unique_factor)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 6), max_size=25), max_size=5),
       st.integers(1, 10), st.integers(-1, 11))
def test_counts_match_brute_force_on_any_streams(streams, seq_len, unique_factor):
    arrays = [np.array(s, np.int32) for s in streams]
    stats = WindowStats.from_streams(arrays, seq_len)
    assert_matches_brute_force(stats, arrays, unique_factor)
    values, counts = stats.histogram()
    assert counts.sum() == stats.total and len(values) == seq_len


def test_edge_cases():
    short = WindowStats.from_streams([np.array([1, 2, 3], np.int32)], seq_len=3)
    assert (short.total, short.kept(0), short.histogram()[1].sum()) == (0, 0, 0)
    assert short.example(0, kept=True) is None and short.example(0, kept=False) is None
    one = WindowStats.from_streams([np.array([4, 4, 5], np.int32)], seq_len=1)
    assert (one.total, one.kept(0), one.kept(1)) == (2, 2, 0)  # a window holds one token
    empty = WindowStats.from_streams([], seq_len=10)
    assert (empty.total, empty.kept(0), empty.keys) == (0, 0, [])
    with pytest.raises(ValueError, match="seq_len"):
        WindowStats.from_streams([np.arange(5)], seq_len=0)
    with pytest.raises(ValueError, match="track keys"):
        WindowStats.from_streams([np.arange(5)], seq_len=2, keys=[])


def test_windows_never_cross_tracks():
    first, second = np.array([1, 2, 3], np.int32), np.array([4, 5, 6], np.int32)
    apart = WindowStats.from_streams([first, second], seq_len=2)
    joined = WindowStats.from_streams([np.concatenate([first, second])], seq_len=2)
    assert (apart.total, joined.total) == (2, 4)
    assert apart.per_track(0)[1].tolist() == [1, 1]
    # a loop split over two tracks: joined, its windows would see both halves
    loop = WindowStats.from_streams([np.array([7, 7, 7, 8], np.int32), np.array([8, 8, 8])], 3)
    assert (loop.total, loop.kept(1)) == (1, 0)


def test_examples_are_dropped_and_kept_windows():
    streams = [np.arange(1, 10, dtype=np.int32), np.array([5, 5, 6, 5, 5, 6, 5, 5, 6, 9])]
    stats = WindowStats.from_streams(streams, seq_len=6)
    dropped, kept = stats.example(2, kept=False), stats.example(2, kept=True)
    assert (dropped.track, dropped.start, kept.track, kept.start) == ((0, 1, 0), 0, (0, 0, 0), 0)
    for window, wanted in ((dropped, False), (kept, True)):
        track = streams[window.track[1]]
        assert window.ids.tolist() == track[window.start : window.start + 6].tolist()
        assert window.start + 6 < len(track)  # it has a next token Y
        assert len(set(window.ids.tolist())) == window.distinct
        assert (window.distinct > 2) == wanted
    assert stats.example(6, kept=True) is None  # no window holds more than seq_len tokens
    assert stats.example(0, kept=False) is None


def write_riff(path: Path, pitches: list[int], program: int = 30) -> None:
    """A guitar track of one note per eighth (one token each) and a bass track (not guitar)."""
    guitar = notes(*((240 * i, p, 240) for i, p in enumerate(pitches)), program=program)
    bass = notes((0, 28, 960), channel=1, program=33, name="Bass")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(midi_bytes([guitar, bass]))


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    root = tmp_path / "midi"
    write_riff(root / "loop.mid", [40, 43, 45] * 8)
    write_riff(root / "solo.mid", list(range(50, 80)))
    write_riff(root / "copy.mid", list(range(50, 80)))  # a duplicate counts too
    write_riff(root / "short.mid", [40, 47])
    scan.scan([root], tmp_path / "c.sqlite", jobs=1)
    with Catalog(tmp_path / "c.sqlite") as opened:
        yield opened


def test_from_catalog_matches_from_streams(catalog):
    streams = list(catalog.streams())
    assert len(streams) == 4  # the bass tracks have no guitar stream
    stats = WindowStats.from_catalog(catalog, seq_len=4)
    again = WindowStats.from_streams([s.ids for s in streams], 4)
    assert np.array_equal(stats.distinct, again.distinct)
    assert stats.keys == [(s.file_id, s.idx, s.channel) for s in streams]
    assert_matches_brute_force(stats, [s.ids for s in streams], 3)
    assert windows_summary(catalog, 4, 3) == {
        "tracks": 4, "windows_total": 20 + 26 + 26 + 0, "windows_kept": 0 + 26 + 26}


def test_selection_narrows_to_its_tracks(catalog):
    streams = list(catalog.streams())
    files = {f["path"]: f["id"] for f in catalog.files()}
    bass = (files["solo.mid"], 1, 1)  # no stream: left out
    chosen = {(s.file_id, s.idx, s.channel) for s in streams if s.file_id != files["copy.mid"]}
    stats = WindowStats.from_catalog(catalog, 4, tracks=chosen | {bass})
    assert set(stats.keys) == chosen
    assert_matches_brute_force(stats, [s.ids for s in streams
                                       if (s.file_id, s.idx, s.channel) in chosen], 3)
    assert windows_summary(catalog, 4, 3, tracks=set()) == {
        "tracks": 0, "windows_total": 0, "windows_kept": 0}


def test_flat_arrays_match_the_per_track_streams(catalog):
    """The health page's route (Catalog.token_arrays, picked by array ops) counts the same."""
    keys, ids = catalog.token_ids(guitar_only=False)
    chosen = set(keys[1:])
    for tracks in (None, set(keys), chosen, set()):
        flat = WindowStats.from_arrays(*catalog.token_arrays(guitar_only=False), 4, tracks)
        listed = WindowStats.from_keyed(keys, ids, 4, tracks)
        assert [tuple(key) for key in flat.keys] == listed.keys
        assert np.array_equal(flat.distinct, listed.distinct)  # the ids skipped are not copied
        for window, again in ((flat.example(u, kept=True), listed.example(u, kept=True))
                              for u in (0, 2)):
            assert (window is None) == (again is None)
            assert window is None or ((window.track, window.start) == (again.track, again.start)
                                      and window.ids.tolist() == again.ids.tolist())


def test_small_id_dtypes_count_as_int32(catalog):
    """The token store's ids come in the smallest dtype that holds the vocabulary (uint8
    here); every count, per-track figure and example equals int32's."""
    keys, offsets, ids = catalog.token_arrays()
    assert ids.dtype == np.uint8
    reference = WindowStats(ids.astype(np.int32), offsets, 4, keys)
    for dtype in (np.uint8, np.uint16):
        stats = WindowStats(ids.astype(dtype), offsets, 4, keys)
        assert np.array_equal(stats.distinct, reference.distinct)
        assert all(np.array_equal(a, b) for a, b in zip(stats.histogram(),
                                                        reference.histogram(), strict=True))
        for unique_factor in (0, 2, 3, 4):
            assert stats.kept(unique_factor) == reference.kept(unique_factor)
            assert all(np.array_equal(a, b) for a, b in zip(
                stats.per_track(unique_factor), reference.per_track(unique_factor),
                strict=True))
            for kept in (True, False):
                window, again = (stats.example(unique_factor, kept),
                                 reference.example(unique_factor, kept))
                assert (window is None) == (again is None)
                assert window is None or (
                    (window.track, window.start, window.distinct) ==
                    (again.track, again.start, again.distinct)
                    and window.ids.tolist() == again.ids.tolist())


def test_ids_past_255_tokens_are_uint16(tmp_path):
    names = [f"C{octave} tok{number}" for octave in range(3) for number in range(100)]
    stream = {"idx": 0, "channel": 0, "names": names, "ids": np.arange(300, dtype=np.int32),
              **{part: np.zeros(300, np.int32) for part in ("delta", "duration", "position",
                                                           "bar")}}
    track = {"idx": 0, "channel": 0, "program": 29, "name": "", "is_drum": False, "notes": 300,
             "pitch_min": 40, "pitch_max": 80, "polyphony": 1.0, "guitar": True,
             "guitar_source": "metadata", "guitar_probability": 1.0, "guitar_reason": "GM",
             "notes_probability": None}
    record = {"root": "/r", "path": "a.mid", "size": 1, "mtime_ns": 1, "md5": "0" * 32,
              "status": "ok", "repairs": [], "error": None, "ticks_per_beat": 480,
              "seconds": 1.0, "tempo": 120.0, "content_key": "c", "transposed_key": "t",
              "meters": [[0, 4, 4]], "tracks": [track], "streams": [stream]}
    with Catalog(tmp_path / "c.sqlite") as catalog:
        with catalog.batch():
            catalog.put_file(record)
        ids = catalog.token_arrays()[2]
        assert ids.dtype == np.uint16
        assert ids.tolist() == catalog.token_ids()[1][0].tolist()


def test_keys_are_found_as_isin_finds_them():
    from deeprock.corpus.windows import _among

    rng = np.random.default_rng(3)
    packed = np.sort(rng.integers(0, 500, 300))
    for wanted in (rng.integers(0, 600, 200), np.array([], np.int64), packed, [499, 0]):
        assert np.array_equal(_among(packed, np.sort(wanted)), np.isin(packed, wanted))
