"""`deeprock generate`: riffs from a run folder (docs/architecture.md's contract).

    deeprock generate --model models/demo --out riff.mid --length 200 --seed 7 --wav riff.wav \
        --tab riff.txt --gp5 riff.gp5 --musicxml riff.musicxml --json
    deeprock generate --model models/demo --out riff.mid --variations 4 --primer none --bars 8
    deeprock generate --model models/demo --out loop.mid --loop-bars 2 --repeats 4 \
        --practice-tempo 70 --count-in --click --wav loop.wav
    deeprock generate --model models/demo --out waltz.mid --meter 3/4 --bars 8 --gp5 waltz.gp5
    deeprock generate --model models/styles --out riff.mid --artist nirvana

With several variations each output gets the variation's number (riff-1.mid, riff-2.mid, ...).
--json prints {"seconds", "tokens", "notes", "structure", "key", "in_key", "settings",
"outputs", "messages"} (structure: the generated part's bar repetition, groove and scale
measures; key: the key steered toward, detected from the primer or chosen, or null; in_key:
the share of the generated notes in it; and "riffs", one such object per variation, when there
are several). Every output is prepared before any is
written, so bad input writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from deeprock.cliutil import CliError
from deeprock.generation.sampling import DEFAULT_REPEAT_BARS, DEFAULT_REPEAT_BIAS

OUTPUT_FLAGS = {"mid": "out", "wav": "wav", "txt": "tab", "gp5": "gp5", "musicxml": "musicxml"}


def register(commands: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands; heavy imports happen inside each command."""
    parser = commands.add_parser("generate", help="riffs from a trained run")
    parser.add_argument("--model", required=True, help="the run folder (models/NAME)")
    parser.add_argument("--out", required=True, help="the MIDI file to write")
    parser.add_argument("--length", type=int, default=200, help="tokens to generate")
    parser.add_argument("--bars", type=int, help="generate this many bars (of --meter) instead")
    parser.add_argument("--loop-bars", type=int, default=0,
                        help="loop mode: a figure of exactly N bars of --meter (0: free, the "
                             "model alone)")
    parser.add_argument("--repeats", type=int, default=1, help="loop mode: play the figure K "
                        "times")
    parser.add_argument("--turnaround", action=argparse.BooleanOptionalAction, default=True,
                        help="loop mode: the last repeat's final bar sampled again")
    parser.add_argument("--temperature", type=float, default=0.9, help="0: greedy")
    parser.add_argument("--top-k", type=int, default=0, help="0: off")
    parser.add_argument("--top-p", type=float, default=0.95, help="1: off")
    parser.add_argument("--repetition-penalty", type=float, default=1.15, help="1: off")
    parser.add_argument("--max-repeat", type=int, default=8,
                        help="the same token at most N times in a row (0: no cap)")
    parser.add_argument("--repeat-bias", type=float, default=DEFAULT_REPEAT_BIAS, metavar="NATS",
                        help="copy prior: favour the token and gap the riff played a figure "
                             "earlier at that place in the bar (0: off; README)")
    parser.add_argument("--repeat-bars", type=int, default=DEFAULT_REPEAT_BARS,
                        help="the figure the copy prior repeats: 2 bars, or 1")
    parser.add_argument("--key", default="auto",
                        help="the root to steer toward (E, F#, Bb), or auto: the primer's")
    parser.add_argument("--scale", default="auto", help="major, minor, minor-pentatonic, "
                        "blues, auto (the primer's) or any (no steering)")
    parser.add_argument("--strict", action="store_true",
                        help="only tokens whose every pitch is in the scale")
    parser.add_argument("--max-copy", type=int, metavar="K",
                        help="no more than K tokens in a row copied from the training songs "
                             "(0: off; default: what an unseen song copies, README)")
    parser.add_argument("--artist", default="any", help="in the style of this artist (a run "
                        "trained with --condition artist; any: unconditioned)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variations", type=int, default=1)
    parser.add_argument("--primer", default="window",
                        help="window (a random training window), song (with --song), a MIDI "
                             "FILE, or none")
    parser.add_argument("--song", help="with --primer song: the catalog path (or part of it)")
    parser.add_argument("--track", type=int, help="with a primer FILE: its pitched track N")
    parser.add_argument("--primer-tokens", type=int, help="primer length (the model's window)")
    parser.add_argument("--catalog", help="the catalog for window/song primers (the run's)")
    parser.add_argument("--rhythm", default="model", choices=("model", "statistics", "fixed"),
                        help="seed runs: statistics (= model) or the post's fixed 0.3 quarters")
    parser.add_argument("--program", type=int, default=30, help="30 distortion, 29 overdriven, "
                        "27 clean, 25 acoustic")
    parser.add_argument("--tempo", type=float, default=120.0, help="beats per minute")
    parser.add_argument("--meter", default="4/4", help="the riff's time signature (3/4, 6/8, "
                        "7/8, ...): the bars of --bars, --loop-bars and every output")
    parser.add_argument("--practice-tempo", type=float, default=100.0, metavar="PERCENT",
                        help="play back at this percent of --tempo (MIDI and audio)")
    parser.add_argument("--count-in", action="store_true", help="one bar of clicks first")
    parser.add_argument("--click", action="store_true", help="a click on every beat "
                        "(channel 10, the downbeat accented)")
    parser.add_argument("--primer-mode", default="marker", choices=("marker", "track", "omit"))
    parser.add_argument("--backing", action="store_true", help="add drums and bass")
    parser.add_argument("--tuning", default="standard", help="for --tab and --gp5")
    parser.add_argument("--capo", type=int, default=0)
    parser.add_argument("--soundfont", help="a General MIDI .sf2 for --wav")
    parser.add_argument("--wav")
    parser.add_argument("--tab")
    parser.add_argument("--gp5")
    parser.add_argument("--musicxml")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(run=_generate)


def _request(args: argparse.Namespace, bar_twelfths: int):
    from deeprock.generation.generate import GenerationRequest
    from deeprock.generation.loop import LoopSettings
    from deeprock.generation.sampling import SamplingSettings

    if args.loop_bars and args.bars is not None:
        raise CliError("--bars and --loop-bars are two lengths: give one")
    sampling = SamplingSettings(temperature=args.temperature, top_k=args.top_k,
                                top_p=args.top_p, repetition_penalty=args.repetition_penalty,
                                max_repeat=args.max_repeat, repeat_bias=args.repeat_bias,
                                repeat_bars=args.repeat_bars)
    guard = {} if args.max_copy is None else {"max_copy": args.max_copy}
    return GenerationRequest(length_tokens=args.length, length_bars=args.bars,
                             sampling=sampling, seed=args.seed, variations=args.variations,
                             rhythm=args.rhythm, key=args.key, scale=args.scale,
                             strict=args.strict, artist=args.artist, **guard,
                             loop=LoopSettings(args.loop_bars, args.repeats, args.turnaround),
                             bar_twelfths=bar_twelfths)


def make_primer(args: argparse.Namespace, run):
    """The primer the arguments name (window, song, a file, none)."""
    import numpy as np

    from deeprock.generation import primers

    tokens = args.primer_tokens or run.window_tokens
    catalog = args.catalog or run.config.catalog
    if args.primer == "none":
        return primers.Primer.none()
    if args.primer == "window":
        return primers.window_primer(catalog, run.split, np.random.default_rng(args.seed),
                                     tokens, run.style_artists(args.artist))
    if args.primer == "song":
        if not args.song:
            raise CliError("--primer song needs --song PATH (a catalog path or part of it)")
        return primers.song_primer(catalog, args.song, tokens)
    path = Path(args.primer)
    if not path.is_file():
        raise CliError(f"--primer {args.primer}: not window, song, none or an existing file")
    return primers.upload_primer(primers.read_upload(path), path.name, tokens, args.track)


def _generate(args: argparse.Namespace) -> int:
    from deeprock.generation.constraints import in_key_share
    from deeprock.generation.generate import RunError, generate, load_run, settings_record
    from deeprock.generation.outputs import OutputOptions, parse_meter, riff_files
    from deeprock.generation.practice import Practice
    from deeprock.generation.primers import PrimerError
    from deeprock.generation.structure import riff_structure

    started = time.perf_counter()
    practice = Practice(args.practice_tempo, args.count_in, args.click, loop=args.loop_bars > 0)
    try:
        meter = parse_meter(args.meter)
    except ValueError as error:
        raise CliError(f"--meter {args.meter}: {error}") from error
    options = OutputOptions(program=args.program, tempo_bpm=args.tempo,
                            primer_mode=args.primer_mode, backing=args.backing,
                            tuning=args.tuning, capo=args.capo, soundfont=args.soundfont,
                            practice=practice, meter=meter)
    formats = tuple(kind for kind, flag in OUTPUT_FLAGS.items() if getattr(args, flag))
    try:
        run = load_run(args.model)
        primer = make_primer(args, run)
        request = _request(args, options.bar_twelfths)
        result = generate(run, primer, request)
        prepared = [riff_files(riff, options, formats) for riff in result.riffs]
    except (RunError, PrimerError, ValueError, OSError) as error:
        raise CliError(str(error)) from error
    reports = []
    for number, (riff, files) in enumerate(zip(result.riffs, prepared, strict=True)):
        if "wav" in files.problems:
            raise CliError(files.problems["wav"])
        paths = {kind: _numbered(getattr(args, OUTPUT_FLAGS[kind]), number, request.variations)
                 for kind in formats}
        reports.append({"variation": number, "tokens": len(riff) - riff.primer_length,
                        "primer_tokens": riff.primer_length,
                        "notes": sum(len(c) for c in riff.generated().chords()),
                        "outputs": paths, "difficulty": files.difficulty,
                        "structure": riff_structure(riff),
                        "in_key": in_key_share(riff.generated().tokens, result.key),
                        "settings": settings_record(run, result.primer, request, number,
                                                    **options.to_dict())})
    _write(prepared, reports)
    _report(args, reports, result, time.perf_counter() - started)
    return 0


def _numbered(path: str, number: int, variations: int) -> str:
    if variations == 1:
        return path
    target = Path(path)
    return str(target.with_name(f"{target.stem}-{number + 1}{target.suffix}"))


def _write(prepared: list, reports: list[dict]) -> None:
    from deeprock.atomic import write_atomic

    try:
        for files, report in zip(prepared, reports, strict=True):
            for kind, path in report["outputs"].items():
                write_atomic(path, files.data[kind])
    except OSError as error:
        raise CliError(f"cannot write {error.filename}: {error.strerror}") from error


def _report(args: argparse.Namespace, reports: list[dict], result, seconds: float) -> None:
    for message in result.messages:
        print(f"note: {message}", file=sys.stderr)
    if args.json:
        first = reports[0]
        document = {"seconds": round(seconds, 4),
                    "generation_seconds": round(result.seconds, 4),
                    "tokens": first["tokens"], "notes": first["notes"],
                    "structure": first["structure"],
                    "key": result.key, "in_key": first["in_key"],
                    "settings": first["settings"], "outputs": first["outputs"],
                    "messages": result.messages}
        if len(reports) > 1:
            document["riffs"] = reports
        print(json.dumps(document))
        return
    for report in reports:
        written = ", ".join(report["outputs"].values())
        print(f"variation {report['variation'] + 1}: {report['tokens']} tokens, "
              f"{report['notes']} notes → {written}")
    print(f"{len(reports)} riff(s) in {seconds:.2f} s (sampling {result.seconds:.3f} s)")
