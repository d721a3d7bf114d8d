"""How hard a fingering is to play, in the spirit of Fretting-Transformer (arXiv 2506.14223).

    score = difficulty(fingering.positions)   # mean cost per onset; 0 = open strings only

Four costs per onset, averaged over the onsets: the fret stretch of a chord (highest minus
lowest fretted fret), the strings a chord skips between its lowest and highest (a strum would
sound them), the hand's movement between positions, and the jump of the plucking hand (change
of the mean string number). The fretting hand covers HAND_SPAN_FRETS frets from its
position; it moves only when a note falls outside, by as little as it can; open strings leave it
where it is. The fret choice's dynamic programming (tab.py) minimises the same costs.
"""

from __future__ import annotations

from collections.abc import Sequence

HAND_SPAN_FRETS = 4  # index to little finger, one finger a fret
STRETCH_WEIGHT = 1.0
MOVE_WEIGHT = 1.0
STRING_JUMP_WEIGHT = 0.5
SKIP_WEIGHT = 4.0  # per string left out inside a chord: a strum hits it, so it must be muted


def skipped_strings(chord: Sequence[tuple[int, int]]) -> int:
    """Strings between a chord's lowest and highest string that it does not play."""
    strings = {string for string, _ in chord}
    return max(strings) - min(strings) + 1 - len(strings) if strings else 0


def hand_after(hand_fret: int | None, lowest_fret: int | None, highest_fret: int | None) -> int:
    """Where the hand's first finger sits after an onset fretted from lowest to highest fret.

    The hand stays when it already covers the notes; otherwise it moves the least it can, and a
    chord wider than the hand puts the first finger on its lowest fret (the rest is stretch).
    None for the hand means the start of the phrase (anywhere); None for the frets, open strings.
    """
    if lowest_fret is None:
        return 0 if hand_fret is None else hand_fret
    reach = highest_fret - (HAND_SPAN_FRETS - 1)
    start = lowest_fret if hand_fret is None else hand_fret
    return min(lowest_fret, max(start, reach))


def onset_costs(positions: Sequence[Sequence[tuple[int, int]]]) -> dict[str, float]:
    """Totals of stretch, skipped strings, movement and string jumps, and the onset count."""
    stretch = skipped = movement = jumps = 0.0
    hand: int | None = None
    previous_string: float | None = None
    for chord in positions:
        if not chord:
            continue
        fretted = [fret for _, fret in chord if fret > 0]
        low, high = (min(fretted), max(fretted)) if fretted else (None, None)
        new_hand = hand_after(hand, low, high)
        if fretted:
            stretch += high - low
            movement += 0 if hand is None else abs(new_hand - hand)
        hand = new_hand
        skipped += skipped_strings(chord)
        mean_string = sum(string for string, _ in chord) / len(chord)
        if previous_string is not None:
            jumps += abs(mean_string - previous_string)
        previous_string = mean_string
    count = sum(1 for chord in positions if chord)
    return {"stretch": stretch, "skipped_strings": skipped, "movement": movement,
            "string_jumps": jumps, "onsets": count}


def difficulty(positions: Sequence[Sequence[tuple[int, int]]]) -> float:
    """Weighted cost per onset: comparable across tracks of different lengths."""
    costs = onset_costs(positions)
    total = (STRETCH_WEIGHT * costs["stretch"] + SKIP_WEIGHT * costs["skipped_strings"]
             + MOVE_WEIGHT * costs["movement"]
             + STRING_JUMP_WEIGHT * costs["string_jumps"])
    return total / max(costs["onsets"], 1)
