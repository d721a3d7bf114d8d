"""Content fingerprints of a song: the same notes give the same key, whatever file holds them.

    content_key, transposed_key = content_keys(song)   # hex digests; None without notes

A note counts as (onset, duration, pitch, drum or not), with onset and duration in twelfths of a
quarter on the token grid (tokens.quantize_twelfths), so resolution, tempo, track order, track
names, channel numbers, velocities and the container (SMF or RMID) do not change the key. Onsets
are measured from the first note: a copy with a leading rest or count-in bar added is the same
music. The transposed key also shifts every pitched note so that the lowest one is 0 (drums keep
their pitches: a drum note is an instrument, not a pitch), so transposed copies share it.

The key hashes the multiset of notes as the count and the 64-bit sum of per-note hashes: a sum
does not care about order, so no sort is needed and each track adds its share on its own (two
different songs collide with odds of 2^-64: nil for any catalog). It runs for every file of every
scan, hence the compiled loop (~10 ns a note, quantizing included).
"""

from __future__ import annotations

import hashlib

import numba
import numpy as np

from deeprock.music.midi import Song

KEY_VERSION = b"deeprock-notes-1"  # change when the note encoding below changes
DURATION_LIMIT = (1 << 16) - 1  # twelfths (1365 bars of 4/4); longer notes count as this long
SUM_MASK = (1 << 64) - 1
SEED = np.uint64(0x9E3779B97F4A7C15)


def content_keys(song: Song) -> tuple[str | None, str | None]:
    """(content_key, transposed_key) of a parsed song; (None, None) when it has no notes."""
    tracks = [track for track in song.tracks if len(track.notes)]
    if not tracks:
        return None, None
    first_tick = min(int(track.notes["start"][0]) for track in tracks)  # notes sorted by start
    lowest = min((int(t.notes["pitch"].min()) for t in tracks if not t.is_drum), default=0)
    content = transposed = 0
    for track in tracks:
        shares = _note_sums(track.notes, track.is_drum, first_tick, song.ticks_per_beat,
                            0 if track.is_drum else lowest)
        content = (content + int(shares[0])) & SUM_MASK
        transposed = (transposed + int(shares[1])) & SUM_MASK
    count = sum(len(track.notes) for track in tracks)
    return _digest(count, content), _digest(count, transposed)


def _digest(count: int, total: int) -> str:
    data = count.to_bytes(8, "little") + total.to_bytes(8, "little")
    return hashlib.blake2b(data, digest_size=16, person=KEY_VERSION).hexdigest()


@numba.njit(cache=True, nogil=True)
def twelfths(ticks: int, ticks_per_beat: int) -> int:
    """tokens.quantize_twelfths of one tick count, compiled: the same float steps, same result."""
    quarters = ticks / ticks_per_beat
    sixteenths = np.rint(quarters * 4) * 3
    triplets = np.rint(quarters * 3) * 4
    raw = quarters * 12
    return int(triplets if abs(triplets - raw) < abs(sixteenths - raw) else sixteenths)


@numba.njit(cache=True, nogil=True)
def _mix(value: np.uint64) -> np.uint64:
    """splitmix64's finalizer: every input bit flips about half of the output bits."""
    value = (value ^ (value >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    value = (value ^ (value >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return value ^ (value >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _note_sums(notes: np.ndarray, is_drum: bool, first_tick: int, ticks_per_beat: int,
               shift: int) -> tuple:
    """One track's share of the content and transposed sums (they wrap around, as intended).

    A note's key is onset | pitch (7 bits) | drum (1 bit) | duration (16 bits).
    """
    content = transposed = np.uint64(0)
    drum = np.uint64(1 << 16) if is_drum else np.uint64(0)
    for i in range(len(notes)):
        onset = np.uint64(twelfths(notes[i]["start"] - first_tick, ticks_per_beat))
        length = np.uint64(min(twelfths(notes[i]["duration"], ticks_per_beat), DURATION_LIMIT))
        rest = (onset << np.uint64(24)) | drum | length
        pitch = notes[i]["pitch"]
        note = _mix((rest | (np.uint64(pitch) << np.uint64(17))) ^ SEED)
        content += note
        if shift:
            note = _mix((rest | (np.uint64(pitch - shift) << np.uint64(17))) ^ SEED)
        transposed += note
    return content, transposed
