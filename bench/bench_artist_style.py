"""Do riffs "in the style of" an artist sound like it? The artist judge's verdict on riffs.

    .venv/bin/python bench/bench_artist_style.py --run models/styles [--general models/general]
        [--finetuned models/nirvana ...] [--judge CATALOG.judge.json] [--largest 15]
        [--primers 10] [--variations 2] [--any-primers 50] [--tokens 200] [--json OUT]

For each of the conditioned run's largest artists that the judge knows: primers x variations
riffs conditioned on it, each judged on its generated part (the mean of its 8-bar windows'
probabilities; the primer left out), and the share the judge puts first on that artist. Against
it: the judge's top-1 on windows of the artist's unseen songs (its ceiling, recorded in the
judge file) and the share of the run's "any artist" riffs it puts first on that artist. Goals
(issue 15): the conditioned share at least half the ceiling, and at least 3x the "any" share.
--general (an unconditioned run) and --finetuned (runs trained with --init-from and --artists A)
are judged the same way: the general run's riffs from the row's primers, each fine-tuned run's
on its own artist. Primers: seed i is the i-th random training window of the conditioned run's
split, the same for every run, so that the runs and the artist asked for are all that differ;
--primers-from artist draws each row's from that artist's training tracks (the "any" riffs keep
the common ones), as the Generate page does for a style.
The shipped generation defaults throughout (GenerationRequest()). Skipped without a run or judge.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from deeprock.atomic import write_atomic
from deeprock.generation.generate import GenerationRequest, LoadedRun, generate, load_run
from deeprock.generation.judge import ArtistJudge, judge_path
from deeprock.generation.primers import Primer, window_primer
from deeprock.training.conditioning import ANY, OTHER


def primers(run: LoadedRun, count: int, artists: tuple[str, ...] = ()) -> list[Primer]:
    """`count` random training windows of the conditioned run's split (of these artists'
    tracks only, if any): seed i is the same window whichever run continues it."""
    return [window_primer(run.config.catalog, run.split, np.random.default_rng(seed),
                          run.window_tokens, artists) for seed in range(count)]


def firsts(judge: ArtistJudge, run: LoadedRun, shared: list[Primer], artist: str,
           variations: int, tokens: int) -> list[str]:
    """The judge's first artist for each riff of `run` (asked for `artist`) from each primer."""
    verdicts = []
    for seed, primer in enumerate(shared):
        request = GenerationRequest(tokens, seed=seed, variations=variations, artist=artist)
        for riff in generate(run, primer, request).riffs:
            verdicts.append(judge.top_artists(riff.generated(), k=1)[0][0])
    return verdicts


def share(verdicts: list[str], artist: str) -> float:
    return sum(v == artist for v in verdicts) / max(len(verdicts), 1)


def style_rows(judge: ArtistJudge, conditioned: LoadedRun, general: LoadedRun | None,
               args) -> list[dict]:
    """One row per judged artist: ceiling, conditioned share, the "any" riffs' shares."""
    ceiling = judge.info.get("held_out_scores", {}).get("per_artist", {})
    table = conditioned.artists
    names = sorted((n for n in table.ids if n not in (ANY, OTHER) and n in judge.artists),
                   key=lambda n: -table.files[n])[:args.largest]
    common = primers(conditioned, max(args.primers, args.any_primers))
    anything = firsts(judge, conditioned, common[:args.any_primers], ANY, 1, args.tokens)
    unconditioned = (firsts(judge, general, common[:args.primers], ANY, args.variations,
                            args.tokens) if general else [])
    rows = []
    for name in names:
        shared = (primers(conditioned, args.primers, table.members(name))
                  if args.primers_from == "artist" else common[:args.primers])
        own = firsts(judge, conditioned, shared, name, args.variations, args.tokens)
        if general and args.primers_from == "artist":
            unconditioned = firsts(judge, general, shared, ANY, args.variations, args.tokens)
        rows.append({"artist": name, "files": table.files[name],
                     "ceiling": ceiling.get(name, {}).get("top1"), "riffs": len(own),
                     "conditioned": share(own, name), "any": share(anything, name),
                     "general": share(unconditioned, name) if general else None,
                     "judged_as": max(set(own), key=own.count)})
        print(f"  {name}: {rows[-1]['conditioned']:.2f} (any {rows[-1]['any']:.2f})", flush=True)
    return rows


def finetuned_rows(judge: ArtistJudge, conditioned: LoadedRun, folders: list[str],
                   args) -> list[dict]:
    """Each fine-tuned run's riffs, judged on the artist it was tuned on."""
    common = primers(conditioned, args.primers)
    rows = []
    for folder in folders:
        run = load_run(folder)
        for name in run.config.data.artists:
            asked = name if run.artists is not None else ANY
            shared = (primers(conditioned, args.primers, (name,))
                      if args.primers_from == "artist" else common)
            own = firsts(judge, run, shared, asked, args.variations, args.tokens)
            rows.append({"run": folder, "artist": name, "riffs": len(own),
                         "finetuned": share(own, name)})
    return rows


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def report(rows: list[dict], tuned: list[dict]) -> None:
    print("\n| artist | files | judge's ceiling (unseen songs' windows) | conditioned riffs put "
          "first on it | \"any\" riffs | general run's riffs | half the ceiling | 3x \"any\" | "
          "conditioned riffs judged most as |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        half = "—" if r["ceiling"] is None else ("met" if r["conditioned"] >= r["ceiling"] / 2
                                                 else "not met")
        thrice = "met" if r["conditioned"] > 0 and r["conditioned"] >= 3 * r["any"] else "not met"
        print(f"| {r['artist']} | {r['files']} | {_pct(r['ceiling'])} | {_pct(r['conditioned'])} "
              f"({r['riffs']}) | {_pct(r['any'])} | {_pct(r['general'])} | {half} | {thrice} | "
              f"{r['judged_as']} |")
    if tuned:
        print("\n| fine-tuned run | artist | riffs | put first on it |")
        print("|---|---|---|---|")
        for r in tuned:
            print(f"| {r['run']} | {r['artist']} | {r['riffs']} | {_pct(r['finetuned'])} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="models/styles", help="a conditioned run")
    parser.add_argument("--general", help="an unconditioned run, judged as a second 'any'")
    parser.add_argument("--finetuned", nargs="*", default=[], help="runs tuned on --artists")
    parser.add_argument("--judge", help="default: beside the run's catalog")
    parser.add_argument("--largest", type=int, default=15)
    parser.add_argument("--primers", type=int, default=10)
    parser.add_argument("--variations", type=int, default=2, help="riffs per primer")
    parser.add_argument("--any-primers", type=int, default=50, help="'any' riffs, one each")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--primers-from", choices=("any", "artist"), default="any",
                        help="artist: each row's primers from that artist's training tracks "
                             "(the Generate page's window primer in a style); any: one set")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    if not (Path(args.run) / "artists.json").is_file():
        print(f"skipped: no conditioned run at {args.run} (deeprock train --condition artist)")
        return
    conditioned = load_run(args.run)
    judge_file = Path(args.judge) if args.judge else judge_path(conditioned.config.catalog)
    if not judge_file.is_file():
        print(f"skipped: no judge at {judge_file} (scripts/train_artist_judge.py)")
        return
    judge = ArtistJudge.load(judge_file)
    general = load_run(args.general) if args.general else None
    rows = style_rows(judge, conditioned, general, args)
    tuned = finetuned_rows(judge, conditioned, args.finetuned, args)
    report(rows, tuned)
    if args.json:
        write_atomic(Path(args.json), json.dumps({"rows": rows, "finetuned": tuned}, indent=1))


if __name__ == "__main__":
    main()
