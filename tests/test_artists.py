"""Artists from paths, the rule file beside the catalog, the split within artists."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deeprock import settings
from deeprock.corpus import demo
from deeprock.corpus.artists import (
    ArtistRule,
    artist_of,
    artist_table,
    artists_path,
    file_artists,
    files_of,
)
from deeprock.corpus.catalog import Catalog
from deeprock.corpus.dedup import find_duplicates
from deeprock.corpus.groups import components
from deeprock.training.split import DataError, DataSettings, build_training_data
from tests.training_fixtures import demo_catalog


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory) -> str:
    return str(demo_catalog(tmp_path_factory.mktemp("artists"), files=60))


@pytest.mark.parametrize(("path", "rule", "artist"), [
    ("n/nirvana/Lithium.mid", ArtistRule(), "nirvana"),  # letter/artist/song
    ("nirvana/Lithium.mid", ArtistRule(), "nirvana"),  # flat: artist/song
    ("Lithium.mid", ArtistRule(), "songs"),  # no folder: the root's name
    ("nirvana/nevermind/Lithium.mid", ArtistRule(level=1), "nirvana"),  # artist/album/song
    ("n/nirvana/nevermind/Lithium.mid", ArtistRule(level=2), "nirvana"),
    ("loose/Lithium.mid", ArtistRule(level=2), "loose"),  # too shallow: the folder above
    ("n/nirvana/Lithium.mid", ArtistRule(overrides={"n/nirvana": "Nirvana"}), "Nirvana"),
    ("misc/live/x.mid", ArtistRule(level=1, overrides={"misc": "various",
                                                        "misc/live": "live band"}), "live band"),
    ("misc/other/x.mid", ArtistRule(level=1, overrides={"misc": "various"}), "various"),
])
def test_artist_from_path(path, rule, artist):
    assert artist_of(path, rule, root="/data/songs") == artist


def test_rule_round_trips_and_a_broken_file_is_named(tmp_path):
    rule = ArtistRule(level=2, overrides={"x/y": "band"})
    path = artists_path(tmp_path / "c.sqlite")
    assert path.name == "c.artists.json" and ArtistRule.load(path) == ArtistRule()
    rule.save(path)
    assert ArtistRule.load(path) == rule
    path.write_text('{"version": 1, "level": 0}')
    with pytest.raises(ValueError, match=f"{path}.*level must be"):
        ArtistRule.load(path)
    path.write_text('{"version": 1, "overrides": {"x": ""}}')
    with pytest.raises(ValueError, match="non-empty artist names"):
        ArtistRule.load(path)


def test_demo_songs_are_filed_under_the_generators_artists(catalog_path):
    with Catalog(catalog_path) as catalog:
        table = artist_table(catalog)
        summary = catalog.summary()
    assert {row["artist"] for row in table} <= set(demo.ARTISTS) and len(table) > 5
    assert sum(row["files"] for row in table) == summary["files"]
    assert sum(row["tokens"] for row in table) == summary["tokens"]
    assert [row["files"] for row in table] == sorted((row["files"] for row in table),
                                                     reverse=True)


def test_the_rule_beside_the_catalog_is_used(catalog_path, tmp_path):
    with Catalog(catalog_path) as catalog:
        first = sorted(set(file_artists(catalog).values()))[0]
        ArtistRule(overrides={first: "renamed"}).save(artists_path(catalog_path))
        try:
            artists = set(file_artists(catalog).values())
        finally:
            artists_path(catalog_path).unlink()
    assert "renamed" in artists and first not in artists


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_artist_songs_split_puts_every_artist_on_both_sides_and_no_song_on_both(catalog_path,
                                                                                  seed):
    settings = DataSettings(seq_len=16, unique_factor=2, validation_share=0.25,
                            split_seed=seed, split_by="artist-songs")
    with Catalog(catalog_path) as catalog:
        data = build_training_data(catalog, settings)
        artists, groups = file_artists(catalog), find_duplicates(catalog)
        paths = catalog.file_keys()
    train, held_out = set(data.train.files), set(data.validation.files)
    assert not train & held_out
    ids = {path: f for f, (_, path) in paths.items()}
    links = [(ids[g.files[0]], ids[other]) for g in groups for other in g.files[1:]]
    songs = components(sorted(train | held_out), links)  # duplicates, versions: one song
    for song in songs:
        assert set(song) <= train or set(song) <= held_out, song
    by_artist: dict[str, int] = {}
    for song in songs:
        by_artist[artists[song[0]]] = by_artist.get(artists[song[0]], 0) + 1
    several = [artist for artist, count in by_artist.items() if count >= 2]
    assert len(several) >= 5
    sides = {artists[f] for f in train}, {artists[f] for f in held_out}
    for artist in several:
        assert artist in sides[0] and artist in sides[1], artist


def test_an_artist_holds_out_the_same_songs_when_trained_alone(catalog_path):
    """A fine-tune on one artist must be judged on songs its parent never saw."""
    settings = DataSettings(seq_len=16, unique_factor=2, validation_share=0.25,
                            split_by="artist-songs")
    with Catalog(catalog_path) as catalog:
        everyone = build_training_data(catalog, settings)
        chosen = [row["artist"] for row in artist_table(catalog)[:2]]
        alone = build_training_data(catalog, replace(settings, artists=chosen))
        artists = file_artists(catalog)
    theirs = {f for f in everyone.validation.files if artists[f] in chosen}
    assert theirs and set(alone.validation.files) == theirs


def test_training_on_chosen_artists_only(catalog_path):
    with Catalog(catalog_path) as catalog:
        table = artist_table(catalog)
        chosen = [row["artist"] for row in table[:2]]
        data = build_training_data(catalog, DataSettings(seq_len=16, unique_factor=2,
                                                         validation_share=0.3, artists=chosen))
        artists = file_artists(catalog)
        assert {artists[f] for f in data.train.files + data.validation.files} == set(chosen)
        with pytest.raises(DataError, match=r"no artist 'iron_statik'.*nearest: iron_static"):
            build_training_data(catalog, DataSettings(seq_len=16, artists=["iron_statik"]))
        with pytest.raises(ValueError, match="no artist 'zz'"):
            files_of(catalog, ["zz"])


def test_health_page_shows_the_artists(catalog_path, tmp_path, monkeypatch):
    from tests.test_health_page import open_page, use

    use(tmp_path, monkeypatch, tmp_path)  # then point the settings at the scanned catalog
    settings.save(settings.Settings(str(tmp_path), catalog_path))
    app = open_page()
    shown = next(e for e in app.expander if e.label.startswith("Artists"))
    frame = shown.dataframe[0].value
    with Catalog(catalog_path) as catalog:
        assert frame.to_dict("records") == artist_table(catalog)
    ArtistRule(overrides={frame["artist"][0]: "renamed"}).save(artists_path(catalog_path))
    try:
        app.run()
        shown = next(e for e in app.expander if e.label.startswith("Artists"))
        assert "renamed" in set(shown.dataframe[0].value["artist"])
        artists_path(catalog_path).write_text("{broken")
        app.run()
        shown = next(e for e in app.expander if e.label.startswith("Artists"))
        assert "is not JSON" in shown.error[0].value
    finally:
        artists_path(catalog_path).unlink()
