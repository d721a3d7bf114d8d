"""One file in detail, as `deeprock inspect --json` prints it (docs/architecture.md)."""

from __future__ import annotations

import os

from deeprock.music import guitar, midi, tokens


def inspect_file(path: str | os.PathLike) -> dict:
    song = midi.load(path)
    return {
        "path": os.fspath(path),
        "status": song.status,
        "repairs": song.repairs,
        "error": song.error,
        "tracks": [_track(song, track) for track in song.tracks],
    }


def _track(song: midi.Song, track: midi.Track) -> dict:
    decision = guitar.decide(song, track)
    return {
        "index": track.index,
        "channel": track.channel,
        "program": track.program,
        "name": track.name,
        "is_drum": track.is_drum,
        "notes": len(track.notes),
        "guitar": decision.guitar,
        "guitar_source": decision.source,
        "guitar_probability": decision.probability,
        "tokens": [] if track.is_drum else tokens.tokenize(song, track).tokens,
    }
