"""The bar-period copy prior: what it proposes, what a strong one plays, bias 0, the guard."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from deeprock.generation import primers
from deeprock.generation.generate import GenerationRequest, generate
from deeprock.generation.primers import Primer
from deeprock.generation.reference import dataset_reference
from deeprock.generation.repeat_prior import NO_PROPOSAL, RepeatPrior
from deeprock.generation.sampling import MAX_REPEAT_BIAS, SamplingSettings
from deeprock.generation.structure import riff_structure
from deeprock.music.tokens import TWELFTHS_PER_BAR
from tests.generate_fixtures import SEQ_LEN

# nothing but the model and the prior: no penalty, no cap, no guard, no key
BARE = SamplingSettings(temperature=0.5, repetition_penalty=1.0, max_repeat=0,
                        repeat_bias=MAX_REPEAT_BIAS)


def _window(runs, run, seed: int = 1) -> Primer:
    return primers.window_primer(str(runs["catalog"]), run.split, np.random.default_rng(seed),
                                 SEQ_LEN)


def _request(sampling: SamplingSettings, **change) -> GenerationRequest:
    return GenerationRequest(**{"length_tokens": 120, "sampling": sampling, "seed": 3,
                                "scale": "any", "max_copy": 0, **change})


def test_it_proposes_the_event_after_the_point_a_bar_before_the_last_onset():
    onsets = np.array([0, 12, 24, 36, 48, 66])
    prior = RepeatPrior.start(1.5, TWELFTHS_PER_BAR, onsets, np.array([1, 2, 3, 4, 1, 5]),
                              batch=2, steps=4)
    tokens, gaps = prior.proposals()
    # a bar before 66 is 18: the next event after it is 3 at 24, 6 after 18, so onset 72
    assert tokens.tolist() == [3, 3] and gaps.tolist() == [6, 6]
    favoured = prior.tokens(np.zeros((2, 6)))
    assert favoured[:, 3].tolist() == [1.5, 1.5] and favoured.sum() == 3.0
    assert np.flatnonzero(prior.deltas(np.zeros((2, 50)))[0]).tolist() == [6]
    prior.advance(np.array([3, 2]), np.array([6, 6]))
    assert prior.proposals()[0].tolist() == [4, 4]  # aligned now: the bar repeats on


def test_nothing_is_proposed_before_the_riff_reaches_a_bar_back():
    prior = RepeatPrior.start(2.0, 2 * TWELFTHS_PER_BAR, np.array([0, 40]), np.array([1, 2]),
                              batch=1, steps=1)
    assert prior.proposals()[0].tolist() == [NO_PROPOSAL]
    logits = np.arange(4.0)[None]
    assert np.array_equal(prior.tokens(logits), logits)


def test_a_forbidden_token_stays_forbidden():
    prior = RepeatPrior.start(MAX_REPEAT_BIAS, 12, np.array([0, 6, 12]), np.array([2, 1, 2]),
                              batch=1, steps=1)
    logits = np.array([[0.0, -np.inf, 0.0]])  # the guard forbade 1, the token a bar ago
    assert prior.tokens(logits)[0, 1] == -np.inf


def _replayed_share(riff, period: int) -> float:
    """Of the generated events whose previous onset lies a period past the riff's first one,
    the share that are the event a period earlier: same onset in the bar, same token."""
    onsets = riff.onsets_twelfths()
    events = dict(zip(onsets.tolist(), riff.tokens, strict=True))
    replayed = [events.get(int(onsets[index]) - period) == riff.tokens[index]
                for index in range(max(riff.primer_length, 1), len(riff))
                if onsets[index - 1] - period >= onsets[0]]
    assert len(replayed) >= len(riff) - riff.primer_length - 2 * SEQ_LEN
    return float(np.mean(replayed))


# the seed's deltas come from the training counts at temperature 1, where one gap can be
# e**7 times likelier than another: the bias wins most steps, not every one
@pytest.mark.parametrize(("arch", "share"), [("deeprock", 1.0), ("seed", 0.9)])
@pytest.mark.parametrize("bars", [1, 2])
def test_a_strong_bias_plays_the_bar_again(runs, loaded, arch, share, bars):
    sampling = replace(BARE, repeat_bars=bars)
    for primer in (_window(runs, loaded[arch]), Primer.none()):
        riff = generate(loaded[arch], primer, _request(sampling)).riffs[0]
        assert _replayed_share(riff, bars * TWELFTHS_PER_BAR) >= share


def test_bias_zero_is_the_sampler_without_the_prior(runs, loaded, monkeypatch):
    off = replace(SamplingSettings(), repeat_bias=0.0)
    primer = _window(runs, loaded["deeprock"])
    before = generate(loaded["deeprock"], primer, _request(off, variations=2)).riffs

    def never(self):
        raise AssertionError("the prior was consulted at bias 0")

    monkeypatch.setattr(RepeatPrior, "proposals", never)
    assert generate(loaded["deeprock"], primer, _request(off, variations=2)).riffs == before


def test_the_prior_raises_the_exact_repeat_share(runs, loaded):
    run = loaded["deeprock"]
    shares = {}
    for bias in (0.0, 6.0):
        sampling = replace(SamplingSettings(), repeat_bias=bias)
        riffs = [generate(run, _window(runs, run, seed), _request(sampling, length_tokens=200,
                                                                   seed=seed)).riffs[0]
                 for seed in range(4)]
        shares[bias] = np.median([riff_structure(riff)["exact_repeat"] or 0.0
                                  for riff in riffs])
    assert shares[6.0] >= 0.5 > shares[0.0], shares


def test_the_guard_still_caps_copies_from_the_training_songs(runs, loaded):
    """The primer is a training window: replaying its bars would copy a training song."""
    run = loaded["deeprock"]
    reference = dataset_reference(run)
    for seed in range(3):
        result = generate(run, _window(runs, run, seed), _request(BARE, seed=seed, max_copy=3))
        assert reference.longest_copy(result.riffs[0]) <= 3
        assert not any("originality guard" in message for message in result.messages)


@pytest.mark.parametrize("change", [{"repeat_bias": -1.0}, {"repeat_bias": 11.0},
                                    {"repeat_bars": 0}, {"repeat_bars": 5}])
def test_out_of_range_settings_are_refused(change):
    with pytest.raises(ValueError, match="repeat"):
        replace(SamplingSettings(), **change).validated()


def test_the_cli_takes_the_bias_and_old_records_mean_none(runs, tmp_path, capsys):
    from deeprock.cli import main

    assert main(["generate", "--model", str(runs["deeprock"]), "--out",
                 str(tmp_path / "riff.mid"), "--length", "30", "--repeat-bias", "3.5",
                 "--json"]) == 0
    request = json.loads(capsys.readouterr().out)["settings"]["request"]
    assert request["sampling"]["repeat_bias"] == 3.5
    del request["sampling"]["repeat_bias"]
    assert GenerationRequest.from_dict(request).sampling.repeat_bias == 0.0
