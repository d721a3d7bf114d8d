"""The `deeprock` command (contract: docs/architecture.md; --json prints one JSON document).

    deeprock demo-data data/demo
    deeprock scan data/demo --catalog data/demo.sqlite [--wait]
    deeprock labels --catalog data/demo.sqlite [--export FILE | --import FILE] [--json]
    deeprock inspect song.mid --json
    deeprock health --catalog data/demo.sqlite --json
    deeprock duplicates --catalog data/demo.sqlite --json
    deeprock windows --catalog data/demo.sqlite --seq-len 100 --unique-factor 10 --json
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from deeprock.cliutil import CliError, open_catalog

EXIT_USAGE = 2
# Each stage adds its own subcommands (a `register(commands)` function); imports stay light.
STAGE_COMMANDS = ("deeprock.training.commands", "deeprock.generation.commands",
                  "deeprock.tab.tab_commands")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except CliError as error:
        print(f"deeprock {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deeprock", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo-data", help="write the synthetic demo corpus")
    demo.add_argument("out", type=Path)
    demo.add_argument("--files", type=int, default=150)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo_data)

    scan = commands.add_parser("scan", help="scan MIDI folders into a catalog")
    scan.add_argument("dirs", nargs="+")
    scan.add_argument("--catalog", required=True)
    scan.add_argument("--jobs", type=int, default=None, help="worker processes (all cores)")
    scan.add_argument("--wait", action="store_true",
                      help="when another scan writes the catalog, wait for it (else refuse)")
    scan.add_argument("--json", action="store_true")
    scan.set_defaults(run=_scan)

    inspect = commands.add_parser("inspect", help="parse files and show tracks and tokens")
    inspect.add_argument("files", nargs="+")
    inspect.add_argument("--json", action="store_true")
    inspect.set_defaults(run=_inspect)

    health = commands.add_parser("health", help="what is wrong with the collection")
    health.add_argument("--catalog", required=True)
    health.add_argument("--json", action="store_true")
    health.set_defaults(run=_health)

    duplicates = commands.add_parser("duplicates", help="exact, content, transposed, versions")
    duplicates.add_argument("--catalog", required=True)
    duplicates.add_argument("--json", action="store_true")
    duplicates.set_defaults(run=_duplicates)

    windows = commands.add_parser("windows", help="windows kept by seq_len and unique_factor")
    windows.add_argument("--catalog", required=True)
    windows.add_argument("--seq-len", type=int, default=100)
    windows.add_argument("--unique-factor", type=int, default=10)
    windows.add_argument("--selection", help="a saved training selection (JSON)")
    windows.add_argument("--json", action="store_true")
    windows.set_defaults(run=_windows)

    labels = commands.add_parser("labels", help="the user's guitar labels: list, export, import")
    labels.add_argument("--catalog", required=True)
    action = labels.add_mutually_exclusive_group()
    action.add_argument("--export", metavar="FILE", help="write the labels as JSON")
    action.add_argument("--import", dest="import_", metavar="FILE", help="apply exported labels")
    action.add_argument("--undo", action="store_true", help="take back the newest decision")
    labels.add_argument("--json", action="store_true")
    labels.set_defaults(run=_labels)

    for stage in STAGE_COMMANDS:
        importlib.import_module(stage).register(commands)
    return parser


def _demo_data(args: argparse.Namespace) -> int:
    from deeprock.corpus import demo

    try:
        paths = demo.generate(args.out, files=args.files, seed=args.seed)
    except (OSError, ValueError) as error:
        raise CliError(str(error)) from error
    print(f"wrote {len(paths)} MIDI files to {args.out}")
    return 0


def _scan(args: argparse.Namespace) -> int:
    from deeprock.corpus.catalog import CatalogError
    from deeprock.corpus.scan import scan
    from deeprock.corpus.scanlock import ScanBusy

    if args.jobs is not None and args.jobs < 1:
        raise CliError("--jobs must be at least 1")
    missing = [d for d in args.dirs if not os.path.isdir(d)]
    if missing:
        raise CliError(f"not a folder: {', '.join(missing)}")
    progress = None if args.json or not sys.stderr.isatty() else _progress_bar
    try:
        report = scan(args.dirs, args.catalog, jobs=args.jobs, progress=progress, wait=args.wait,
                      on_wait=lambda message: print(message, file=sys.stderr, flush=True))
    except ScanBusy as error:
        raise CliError(f"{error} (or scan with --wait to queue behind it)") from error
    except CatalogError as error:
        raise CliError(str(error)) from error
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    for failure in report.failures + report.problems:
        print(f"{failure['path']}: {failure['error']}", file=sys.stderr)
    print(f"{report.files} files ({report.new} parsed, {report.unchanged} unchanged, "
          f"{report.removed} removed): {report.ok} ok, {report.recovered} recovered, "
          f"{report.failed} failed in {report.seconds:.2f} s → {args.catalog}")
    return 0


def _labels(args: argparse.Namespace) -> int:
    from deeprock.atomic import write_atomic
    from deeprock.corpus import labels

    with open_catalog(args.catalog) as catalog:
        result: dict = {}
        try:
            if args.export:
                write_atomic(args.export, labels.export_json(catalog))
                result["exported"] = args.export
            elif args.import_:
                result["imported"] = labels.import_json(
                    catalog, _read_text(args.import_), args.import_)
            elif args.undo:
                result["undone"] = labels.undo(catalog)
        except (OSError, labels.LabelError) as error:
            raise CliError(str(error)) from error
        entries = labels.current(catalog)
    accepted = sum(entry["guitar"] for entry in entries)
    result |= {"labels": len(entries), "accepted": accepted, "rejected": len(entries) - accepted}
    if not (args.export or args.import_ or args.undo):
        result["entries"] = entries
    if args.json:
        print(json.dumps(result))
        return 0
    for entry in result.get("entries", []):
        print(f"{'accepted' if entry['guitar'] else 'rejected'}: {entry['path'] or entry['md5']} "
              f"track {entry['index']} channel {entry['channel'] + 1} {entry['name'] or ''}")
    print(", ".join(f"{key} {value}" for key, value in result.items() if key != "entries"))
    return 0


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from error


def _progress_bar(done: int, total: int) -> None:
    width = 40
    filled = width * done // max(total, 1)
    end = "\n" if done == total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr)


def _inspect(args: argparse.Namespace) -> int:
    from deeprock.corpus.inspect import inspect_file

    reports = [inspect_file(path) for path in args.files]
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports))
        return 0
    for report in reports:
        print(f"{report['path']}: {report['status']}" +
              (f" ({report['error']})" if report["error"] else ""))
        for repair in report["repairs"]:
            print(f"  repaired: {repair}")
        for track in report["tracks"]:
            print(f"  track {track['index']} ch {track['channel'] + 1} program "
                  f"{track['program']} {track['name']!r}: {track['notes']} notes, "
                  f"guitar={track['guitar']} ({track['guitar_source']}), "
                  f"{len(track['tokens'])} tokens")
    return 0


def _health(args: argparse.Namespace) -> int:
    from deeprock.corpus.health import health_report

    with open_catalog(args.catalog) as catalog:
        report = health_report(catalog)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0


def _duplicates(args: argparse.Namespace) -> int:
    from deeprock.corpus.dedup import find_duplicates

    with open_catalog(args.catalog) as catalog:
        groups = find_duplicates(catalog)
    if args.json:
        print(json.dumps([group.to_dict() for group in groups]))
    else:
        for group in groups:
            print(f"{group.kind}: {' | '.join(group.files)}")
        print(f"{len(groups)} groups")
    return 0


def _windows(args: argparse.Namespace) -> int:
    from deeprock.corpus.selection import Selection, track_ids
    from deeprock.corpus.windows import windows_summary

    if args.seq_len < 1 or args.unique_factor < 0:
        raise CliError("--seq-len must be at least 1 and --unique-factor at least 0")
    with open_catalog(args.catalog) as catalog:
        tracks = None
        if args.selection:
            try:
                tracks = track_ids(catalog, Selection.load(args.selection))
            except ValueError as error:
                raise CliError(str(error)) from error
        summary = windows_summary(catalog, args.seq_len, args.unique_factor, tracks)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['tracks']} tracks: {summary['windows_kept']} of "
              f"{summary['windows_total']} windows kept (seq_len {args.seq_len}, more than "
              f"{args.unique_factor} distinct tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
