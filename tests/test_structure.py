"""Bar repetition, groove and scale measures, and key detection, on hand-made riffs."""

import numpy as np
import pytest

from deeprock.generation.riff import Riff
from deeprock.generation.scales import Key, detect_key, in_scale_shares, root_number
from deeprock.generation.structure import dataset_structure, riff_structure, structure

E_MINOR_PENTATONIC = ["E2", "G2", "A2", "B2", "D3"]


def _riff(bar_figures: list[list[tuple[int, str]]]) -> Riff:
    """Bars of (onset in bar, token) → a riff whose bar line is at its start."""
    onsets, tokens = [], []
    for number, figure in enumerate(bar_figures):
        for onset, token in figure:
            onsets.append(number * 48 + onset)
            tokens.append(token)
    delta = np.diff(onsets, prepend=0)
    return Riff(tokens, delta, np.full(len(tokens), 6))


FIGURE = [(0, "E2"), (12, "G2"), (24, "A2"), (36, "E2 B2")]


def test_a_figure_played_eight_times_repeats_exactly():
    measures = riff_structure(_riff([FIGURE] * 8))
    assert measures == {"exact_repeat": 1.0, "near_repeat": 1.0, "groove": 1.0,
                        "scale_consistency": 1.0}


def test_bars_that_never_repeat_score_zero():
    figures = [[(onset, "E2")] for onset in range(0, 48, 6)]  # one note, a new place each bar
    measures = riff_structure(_riff(figures))
    assert measures["exact_repeat"] == 0.0 and measures["near_repeat"] == 0.0
    assert measures["groove"] == pytest.approx(1 - 2 / 48)  # two slots differ per bar


def test_a_varied_figure_is_a_near_repeat():
    varied = [*FIGURE[:3], (36, "D3")]  # 3 of 4 pairs shared: Jaccard 3/5
    measures = riff_structure(_riff([FIGURE, varied] * 4))
    assert measures["exact_repeat"] == pytest.approx(6 / 7)  # bar 2 is new, the rest come back
    assert measures["near_repeat"] == 1.0


def test_windows_slide_and_the_median_is_taken():
    a, b = FIGURE, [(6, "A2")]
    # 10 bars: windows start at bars 0, 1, 2; each window sees one new bar among 7 later bars
    measures = structure(*_onsets_and_chords(_riff([a, b] * 5)))
    assert measures["exact_repeat"] == pytest.approx(6 / 7)


def test_windows_with_a_silent_bar_are_not_measured():
    # 9 bars: the fifth is silent. Rests equal each other, so counted they would be repeats;
    # only 8-bar windows where every bar plays are measured, and here there is none.
    figures = [[(onset, "E2")] for onset in range(0, 48, 6)]
    with_rest = [*figures[:4], [], *figures[4:], [(3, "E2")]]
    assert riff_structure(_riff(with_rest))["exact_repeat"] is None
    assert riff_structure(_riff([*figures, [(3, "E2")]]))["exact_repeat"] == 0.0


def _onsets_and_chords(riff: Riff):
    return riff.onsets_twelfths(), riff.chords()


def test_under_two_bars_there_is_nothing_to_measure():
    assert riff_structure(_riff([FIGURE]))["exact_repeat"] is None


def test_the_dataset_figure_is_over_tracks():
    riff = _riff([FIGURE] * 8)
    vocabulary = sorted(set(riff.tokens))
    ids = np.array([vocabulary.index(t) for t in riff.tokens])
    summary = dataset_structure([ids, ids], vocabulary, [riff.delta_twelfths] * 2)
    assert summary["exact_repeat"] == {"median": 1.0, "p10": 1.0, "p90": 1.0, "tracks": 2}


def test_detect_key_prefers_the_pentatonic_and_reports_its_fit():
    # E minor pentatonic and one Eb: E minor and G major also hold 15 of 16, the smaller wins
    key = detect_key([40, 43, 45, 47, 50] * 3 + [51])
    assert (key.root, key.scale) == (4, "minor-pentatonic")
    assert key.fit == pytest.approx(15 / 16)
    assert detect_key([]) is None


def test_blues_adds_the_flat_five():
    assert detect_key([40, 43, 45, 46, 47, 50]).scale == "blues"


def test_roots_and_shares():
    assert [root_number(n) for n in ("E", "f#", "Bb", "B-", "Db")] == [4, 6, 10, 10, 1]
    with pytest.raises(ValueError, match="H"):
        root_number("H")
    shares = in_scale_shares(["<unk>", "E2", "F2", "E2 F2"], Key.parse("E", "minor"))
    assert shares.tolist() == [1.0, 1.0, 0.0, 0.5]
