"""Scan MIDI folders into the catalog: parallel, incremental, resumable.

    deeprock scan data/demo --catalog data/demo.sqlite [--jobs N] [--json]

Files whose size and mtime are unchanged are not parsed again. Results are committed in
batches, in a fixed order, so a killed scan re-run gives the same catalog as one that never
stopped. A broken file becomes a "failed" row with its reason; it never stops the scan.
This module must not import TensorFlow, Keras or music21: a scan starts in well under a second.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from deeprock.corpus.catalog import Catalog
from deeprock.corpus.scanlock import scan_lock

if TYPE_CHECKING:
    from deeprock.music import guitar, midi

MIDI_EXTENSIONS = (".mid", ".midi", ".rmi", ".kar")
BATCH_FILES = int(os.environ.get("DEEPROCK_SCAN_BATCH", "200"))  # files per commit
BATCH_SECONDS = 1.0
Progress = Callable[[int, int], None]


@dataclass
class ScanReport:
    files: int = 0
    new: int = 0
    unchanged: int = 0
    removed: int = 0
    ok: int = 0
    recovered: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[dict] = field(default_factory=list)  # this run's failed files and reasons
    problems: list[dict] = field(default_factory=list)  # folders that could not be listed

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def find_midi_files(root: str, problems: list[dict]) -> list[str]:
    """MIDI paths under root, relative to it, sorted; symlinked folders are not followed."""
    found = []

    def unreadable(error: OSError) -> None:
        problems.append({"path": error.filename, "error": f"cannot list: {error.strerror}"})

    for folder, dirs, names in os.walk(root, onerror=unreadable):
        dirs.sort()
        for name in names:
            if name.lower().endswith(MIDI_EXTENSIONS):
                found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


def analyze(root: str, path: str) -> dict:
    """One file → the catalog record (file fields, tracks, token streams). Runs in a worker.

    The parsing modules load here, not at the top: a rescan with nothing to parse then starts
    without symusic and numba, and forked workers load them in parallel.
    """
    from deeprock.music import fingerprint, guitar, midi, tokens

    song = midi.load(os.path.join(root, path))
    content_key, transposed_key = fingerprint.content_keys(song)
    record = {
        "root": root, "path": path, "size": song.size, "md5": song.md5,
        "status": song.status, "repairs": song.repairs, "error": song.error,
        "ticks_per_beat": song.ticks_per_beat if song.tracks else None,
        "seconds": round(song.length_seconds, 3) if song.tracks else None,
        "tempo": round(song.tempo, 3) if song.tracks else None,
        "content_key": content_key, "transposed_key": transposed_key,
        "meters": [[m.start_twelfths, m.numerator, m.denominator]
                   for m in tokens.song_meters(song)],
        "tracks": [], "streams": [],
    }
    for track in song.tracks:
        decision = guitar.decide(song, track)
        record["tracks"].append(_track_row(track, decision))
        # guitars keep their tokens, inferred ones too: the user may accept them on review
        if decision.guitar or decision.source == "inferred":
            stream = tokens.tokenize(song, track)
            record["streams"].append({  # int32, as stored: half the bytes to send back
                "idx": track.index, "channel": track.channel, "names": stream.names,
                "ids": stream.ids.astype("<i4"), "delta": stream.delta_twelfths.astype("<i4"),
                "duration": stream.duration_twelfths.astype("<i4"),
                "position": stream.position_twelfths.astype("<i4"),
                "bar": stream.bar.astype("<i4"),
            })
    return record


def _track_row(track: midi.Track, decision: guitar.GuitarDecision) -> dict:
    pitches = track.notes["pitch"]
    onsets = 1 + np.count_nonzero(np.diff(track.notes["start"]))  # notes are sorted by start
    return {
        "idx": track.index, "channel": track.channel, "program": track.program,
        "name": track.name, "is_drum": track.is_drum, "notes": len(pitches),
        "pitch_min": int(pitches.min()), "pitch_max": int(pitches.max()),
        "polyphony": round(len(pitches) / onsets, 3),
        "guitar": decision.guitar, "guitar_source": decision.source,
        "guitar_probability": decision.probability, "guitar_reason": decision.reason,
        "notes_probability": decision.notes_probability,
    }


def _analyze_task(task: tuple[str, str]) -> dict:
    return analyze(*task)


def scan(
    roots: Iterable[str],
    catalog_path: str,
    jobs: int | None = None,
    progress: Progress | None = None,
    start: str | None = None,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> ScanReport:
    """Scan folders into a catalog; raises CatalogError only when the catalog is unusable,
    and scanlock.ScanBusy when another scan writes it and ``wait`` is false.

    ``start`` is the multiprocessing start method: "fork" is fastest (workers inherit the
    compiled loader) and the default; a threaded host (the Streamlit server, a process that
    loaded TensorFlow) gets "spawn", as a fork there can copy a lock another thread held
    and hang the worker.
    ``on_wait`` hears, once, why the scan waits for another one.
    """
    started = time.perf_counter()
    report = ScanReport()
    roots = [os.path.abspath(r) for r in roots]
    with scan_lock(catalog_path, wait, on_wait), Catalog(catalog_path) as catalog:
        tasks = _plan(catalog, roots, report)
        _run(catalog, tasks, report, jobs or os.cpu_count() or 1, progress, start)
        counts = catalog.status_counts(roots)
    report.ok, report.recovered, report.failed = counts["ok"], counts["recovered"], counts["failed"]
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _plan(catalog: Catalog, roots: list[str], report: ScanReport) -> list[tuple[str, str]]:
    """Which files need parsing; drops catalog rows of files that are gone."""
    tasks = []
    for root in roots:
        if not os.path.isdir(root):
            report.problems.append({"path": root, "error": "not a folder"})
            continue
        known = catalog.known_files(root)
        paths = find_midi_files(root, report.problems)
        report.files += len(paths)
        for path in paths:
            try:
                stat = os.stat(os.path.join(root, path))
                current = (stat.st_size, stat.st_mtime_ns)
            except OSError:
                current = None  # parse anyway: the reason lands in the catalog
            if current is not None and known.get(path) == current:
                report.unchanged += 1
            else:
                tasks.append((root, path, current))
        gone = set(known) - set(paths)
        if gone:
            with catalog.batch():
                catalog.remove_files(root, gone)
            report.removed += len(gone)
    return tasks


def _run(catalog: Catalog, tasks: list, report: ScanReport, jobs: int,
         progress: Progress | None, start: str | None) -> None:
    report.new = len(tasks)
    stats = {(root, path): current for root, path, current in tasks}
    work = [(root, path) for root, path, _ in tasks]
    results = _results(work, jobs, start)
    pending, last_commit = [], time.perf_counter()
    for done, record in enumerate(results, start=1):
        size_mtime = stats[record["root"], record["path"]] or (-1, -1)
        record["size"], record["mtime_ns"] = size_mtime
        pending.append(record)
        if len(pending) >= BATCH_FILES or time.perf_counter() - last_commit > BATCH_SECONDS:
            _commit(catalog, pending, report)
            last_commit = time.perf_counter()
        if progress:
            progress(done, len(work))
    _commit(catalog, pending, report)


def _results(work: list[tuple[str, str]], jobs: int, start: str | None) -> Iterable[dict]:
    if jobs <= 1 or len(work) < 8:
        yield from map(_analyze_task, work)
        return
    # workers load the numba-compiled code themselves, in parallel: warming it up here first
    # would add its load time to the critical path
    context = multiprocessing.get_context(start or default_start())
    with context.Pool(min(jobs, len(work))) as pool:
        yield from pool.imap(_analyze_task, work, chunksize=16)


def default_start() -> str:
    """"fork" unless Python threads run here or TensorFlow (its thread pools) is loaded.
    numpy's BLAS threads do not count: they are idle at a fork and re-made after it."""
    threaded = threading.active_count() > 1 or "tensorflow" in sys.modules
    return "spawn" if threaded else "fork"


def _commit(catalog: Catalog, records: list[dict], report: ScanReport) -> None:
    with catalog.batch():
        for record in records:
            catalog.put_file(record)
    for record in records:
        if record["status"] == "failed":
            report.failures.append({"path": os.path.join(record["root"], record["path"]),
                                    "error": record["error"]})
    records.clear()
