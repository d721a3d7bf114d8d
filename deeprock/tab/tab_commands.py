"""`deeprock tab FILE`: the tab of a track, as text, Guitar Pro 5 or JSON (issue 10's contract).

    deeprock tab song.mid --tuning drop-d --out tab.txt --gp5 song.gp5
    deeprock tab song.mid --track 2:1 --tuning B1,E2,A2,D3,G3,B3,E4 --json

--json prints {"file", "track", "tuning", "notes": [{"onset_quarters", "pitch", "string",
"fret"}], "out_of_range", "difficulty", "seconds"}; strings as Guitar Pro numbers them (1 = the
highest-pitched). Bad input is one sentence and exit code 2, and then nothing is written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from deeprock.cliutil import CliError


def register(commands: argparse._SubParsersAction) -> None:
    tab = commands.add_parser("tab", help="guitar tab of a track (text, Guitar Pro 5, JSON)")
    tab.add_argument("file")
    tab.add_argument("--track", help="INDEX:CHANNEL as inspect prints it (first guitar track)")
    tab.add_argument("--tuning", default="standard",
                     help="standard, drop-d, seven, bass, or open strings lowest first: "
                          "E2,A2,D3,G3,B3,E4")
    tab.add_argument("--capo", type=int, default=0)
    tab.add_argument("--strict", action="store_true",
                     help="refuse notes outside the tuning's range instead of moving octaves")
    tab.add_argument("--out", help="write the tab text here")
    tab.add_argument("--gp5", help="write a Guitar Pro 5 file here")
    tab.add_argument("--json", action="store_true")
    tab.set_defaults(run=_tab)


def _tab(args: argparse.Namespace) -> int:
    from deeprock.music import midi
    from deeprock.tab.gp5 import gp5_bytes
    from deeprock.tab.tab import MAX_CAPO, parse_tuning
    from deeprock.tab.tabtext import tab_text
    from deeprock.tab.track_tab import pick_track, track_tab

    try:
        tuning = parse_tuning(args.tuning)
    except ValueError as error:
        raise CliError(str(error)) from None
    if not 0 <= args.capo <= MAX_CAPO:
        raise CliError(f"--capo {args.capo} is beyond fret {MAX_CAPO} (give 0 to {MAX_CAPO})")
    for output in (args.out, args.gp5):
        if output and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
            raise CliError(f"cannot write {output}: its folder does not exist")
    if not os.path.isfile(args.file):
        raise CliError(f"no file {args.file}")
    song = midi.load(args.file)
    if song.status == "failed":
        raise CliError(f"{args.file} could not be read: {song.error}")
    try:
        result = track_tab(song, pick_track(song, args.track), tuning, args.capo, args.strict)
    except ValueError as error:
        raise CliError(str(error)) from None
    text = tab_text(result.fingering, result.onsets_quarters, tuning)
    outputs = {}
    if args.out:
        outputs[args.out] = text + "\n"
    if args.gp5:
        outputs[args.gp5] = gp5_bytes(result.onsets_quarters, result.durations_quarters,
                                      result.fingering, tuning, song.tempo,
                                      Path(args.file).stem, args.capo)
    _write_all(outputs)
    _report(args, result, text)
    return 0


def _write_all(outputs: dict[str, str | bytes]) -> None:
    from deeprock.atomic import write_atomic

    for path, data in outputs.items():
        try:
            write_atomic(path, data)
        except OSError as error:
            raise CliError(f"cannot write {path}: {error.strerror or error}") from None


def _report(args: argparse.Namespace, result, text: str) -> None:
    track = result.track
    if args.json:
        print(json.dumps({"file": args.file, "track": {"index": track.index,
                                                        "channel": track.channel},
                          "tuning": list(result.tuning), "notes": result.notes(),
                          "out_of_range": result.fingering.out_of_range,
                          "difficulty": round(result.fingering.difficulty, 4),
                          "seconds": round(result.seconds, 4)}))
        return
    if not args.out and not args.gp5:
        print(text)
    print(f"track {track.index}:{track.channel}: {len(track.notes)} notes, difficulty "
          f"{result.fingering.difficulty:.2f}, {result.fingering.out_of_range} moved by octaves",
          file=sys.stderr)
