"""`deeprock train` and `deeprock evaluate` (docs/architecture.md's contract).

    deeprock train --catalog data/demo.sqlite --out models/demo --epochs 10
    deeprock train --catalog data/demo.sqlite --out models/sweep --arch seed --lr 0.01 0.001
    deeprock train --out models/demo --resume --epochs 20
    deeprock train --catalog data/demo.sqlite --out models/styles --condition artist
    deeprock train --init-from models/styles --out models/nirvana --artists nirvana
    deeprock evaluate --model models/demo --catalog other.sqlite --json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from deeprock.cliutil import CliError

# Defaults per architecture where they differ: the seed is the post's, ours is tuned for a CPU.
# The transformer's context is 256 tokens, about 16 bars of a riff (issue 14).
# augment: transposition by up to N semitones; off for the seed (the post's network as it was),
# 4 for the others: on ../shared/corpus at 12 CPU-minutes it took deeprock's held-out perplexity
# from 44.9 to 33.1 (bench/RESULTS.md)
ARCH_DEFAULTS = {"seed": {"seq_len": 100, "lr": 0.001, "stride": 1, "unique_factor": 13,
                          "augment": 0},
                 "deeprock": {"seq_len": 64, "lr": 0.005, "stride": 0, "unique_factor": 10,
                              "augment": 4},
                 "transformer": {"seq_len": 256, "lr": 0.001, "stride": 0, "unique_factor": 10,
                                 "augment": 4}}


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a model (or continue one) into a run folder")
    train.add_argument("--catalog", help="the catalog to train on (not needed with --resume)")
    train.add_argument("--out", required=True, help="run folder, e.g. models/NAME")
    train.add_argument("--arch", choices=tuple(ARCH_DEFAULTS),
                       help="default: deeprock (with --init-from: the run's)")
    train.add_argument("--seq-len", type=int, help="tokens of context (seed 100, deeprock 64, "
                                                   "transformer 256)")
    train.add_argument("--unique-factor", type=int,
                       help="windows train when they hold more distinct tokens than this")
    # None: the run's own value with --resume, TrainSettings' default for a new run
    train.add_argument("--epochs", type=int, help="default: 20, or the run's with --resume")
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, nargs="+", help="one rate, or several for a sweep")
    train.add_argument("--max-minutes", type=float,
                       help="the run's total time budget, resumes included (0, the default: "
                            "none; with --resume: the run's)")
    for name, kind, default in (("units", int, 256), ("layers", int, 2), ("embedding", int, 64),
                                ("dropout", float, 0.3), ("validation-share", float, 0.1),
                                ("min-count", int, 2), ("augment", int, None),
                                ("patience", int, None), ("data-percent", float, 100.0),
                                ("seed", int, 0),
                                ("rhythm-loss-weight", float, 0.5), ("clipnorm", float, 1.0)):
        train.add_argument(f"--{name}", type=kind, default=default)
    train.add_argument("--stride", type=int, help="an epoch takes 1 in N windows (deeprock: "
                                                  "seq_len/2, seed: 1)")
    train.add_argument("--split-by", choices=("song", "artist", "artist-songs"), default="song")
    train.add_argument("--artists", type=lambda text: [a for a in text.split(",") if a],
                       default=[], help="comma-separated: train on these artists only")
    train.add_argument("--condition", choices=("none", "artist"), default="none",
                       help="artist: the model is told each window's artist (deeprock, "
                            "transformer)")
    train.add_argument("--min-artist-files", type=int, default=20,
                       help="with --condition artist: artists with fewer files share 'other'")
    train.add_argument("--any-artist-share", type=float, default=0.15,
                       help="with --condition artist: windows trained as 'any artist'")
    train.add_argument("--init-from", metavar="RUN",
                       help="fine-tune: continue RUN's weights on this selection (--artists, "
                            "--selection, --catalog) at its rate / 10 unless --lr")
    train.add_argument("--selection", help="a saved training selection (default: the one beside "
                                           "the catalog, if any)")
    train.add_argument("--no-selection", action="store_true", help="every guitar track")
    train.add_argument("--precision", default="float32",
                       choices=("float32", "mixed_float16", "mixed_bfloat16"))
    train.add_argument("--jit-compile", default="auto", choices=("auto", "on", "off"))
    train.add_argument("--distribute", default="none", choices=("none", "mirrored", "multiworker"))
    train.add_argument("--force", action="store_true", help="replace a run of other settings")
    train.add_argument("--resume", action="store_true", help="continue --out with its settings")
    train.add_argument("--estimate", action="store_true", help="time a few batches; no run")
    train.add_argument("--json", action="store_true")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="score a run on a catalog's guitar tracks")
    evaluate.add_argument("--model", required=True, help="a run folder")
    evaluate.add_argument("--catalog", required=True)
    evaluate.add_argument("--seq-len", type=int, help="the run's, unless a seed run allows "
                                                      "another")
    evaluate.add_argument("--unique-factor", type=int, help="default: the run's")
    evaluate.add_argument("--max-windows", type=int, default=0, help="cap (0: all)")
    evaluate.add_argument("--targets", choices=("all", "last"), default="all",
                          help="last: only the token after each window, as the seed is scored")
    evaluate.add_argument("--held-out", action="store_true",
                          help="only the run's validation files (for its own catalog)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(run=_evaluate)


# What a resume may change (RunConfig.settings_key leaves them out); not given: the run's own.
RESUMABLE = ("epochs", "max_minutes", "patience")


def config_from_args(args: argparse.Namespace):
    """A RunConfig from the options (with --resume: the folder's, with the changes allowed)."""
    from deeprock.corpus.selection import selection_path
    from deeprock.training import runs
    from deeprock.training.config import RunConfig, TrainSettings
    from deeprock.training.models import ModelSettings
    from deeprock.training.split import DataSettings

    out = Path(args.out)
    if args.resume:
        try:
            config = RunConfig.load(out / runs.CONFIG)
        except ValueError as error:
            raise CliError(f"nothing to resume in {out}: {error}") from error
        for name in RESUMABLE:
            if getattr(args, name) is not None:
                setattr(config.train, name, getattr(args, name))
        return config
    if args.init_from:
        return _finetune_config(args, selection_path)
    if not args.catalog:
        raise CliError("--catalog is needed (or --resume to continue a run)")
    args.arch = args.arch or "deeprock"
    if args.condition == "artist" and args.arch == "seed":
        raise CliError("--condition artist needs --arch deeprock or transformer (the seed "
                       "network reads token ids only)")
    fresh = TrainSettings()
    for name in RESUMABLE:
        if getattr(args, name) is None:
            setattr(args, name, getattr(fresh, name))
    defaults = ARCH_DEFAULTS[args.arch]
    seq_len = args.seq_len or defaults["seq_len"]
    stride = args.stride if args.stride is not None else (defaults["stride"] or seq_len // 2)
    selection = _selection(args, args.catalog, selection_path)
    for name, value, low in (("--epochs", args.epochs, 1), ("--batch-size", args.batch_size, 1),
                             ("--seq-len", seq_len, 2), ("--units", args.units, 1),
                             ("--layers", args.layers, 1), ("--stride", stride, 1)):
        if value < low:
            raise CliError(f"{name} must be at least {low}, not {value}")
    if not 0 <= args.validation_share < 1:
        raise CliError(f"--validation-share must be in [0, 1), not {args.validation_share}")
    return RunConfig(
        catalog=os.path.abspath(args.catalog), selection=selection,  # any working folder
        model=ModelSettings(arch=args.arch, units=args.units, layers=args.layers,
                            embedding=args.embedding, dropout=args.dropout,
                            rhythm_loss_weight=args.rhythm_loss_weight,
                            clipnorm=args.clipnorm, condition=args.condition,
                            learning_rate=(args.lr or [defaults["lr"]])[0]),
        data=DataSettings(seq_len=seq_len, unique_factor=(args.unique_factor
                                                          if args.unique_factor is not None
                                                          else defaults["unique_factor"]),
                          validation_share=args.validation_share, split_seed=args.seed,
                          split_by=args.split_by, min_count=args.min_count,
                          data_percent=args.data_percent, stride=stride,
                          artists=args.artists),
        train=TrainSettings(epochs=args.epochs, batch_size=args.batch_size,
                            patience=args.patience, max_minutes=args.max_minutes,
                            augment_semitones=(args.augment if args.augment is not None
                                               else defaults["augment"]),
                            precision=args.precision,
                            jit_compile=args.jit_compile, distribute=args.distribute,
                            seed=args.seed, any_artist_share=args.any_artist_share,
                            min_artist_files=args.min_artist_files))


def _selection(args: argparse.Namespace, catalog: str, selection_path) -> str | None:
    """--selection, else the one saved beside the catalog unless --no-selection."""
    if args.selection is not None or args.no_selection:
        return args.selection
    beside = selection_path(catalog)
    return str(beside) if beside.is_file() else None


def _finetune_config(args: argparse.Namespace, selection_path):
    """--init-from RUN: the run's settings, this selection and schedule (finetune.py)."""
    from deeprock.training.config import RunConfig
    from deeprock.training.finetune import FinetuneChoice, finetune_config
    from deeprock.training.runs import CONFIG

    parent = Path(os.path.abspath(args.init_from))  # config.json's init_from, read from anywhere
    try:
        catalog = os.path.abspath(args.catalog) if args.catalog else RunConfig.load(
            parent / CONFIG).catalog
        choice = FinetuneChoice(catalog, _selection(args, catalog, selection_path),
                                args.artists, args.arch, (args.lr or [None])[0],
                                args.epochs or 5, 2 if args.patience is None else args.patience,
                                args.max_minutes or 0.0)
        return finetune_config(parent, choice)
    except ValueError as error:
        raise CliError(str(error)) from error


def _train(args: argparse.Namespace) -> int:
    from deeprock.training import runs, train

    train.catch_stop_requests()  # before TensorFlow loads: a Stop then still stops gracefully
    config = config_from_args(args)
    if args.resume:
        print(resume_note(config, Path(args.out)), file=sys.stderr if args.json else sys.stdout,
              flush=True)

    try:
        if args.estimate:
            result = train.estimate(config)
        elif args.lr and len(args.lr) > 1 and not args.resume:
            result = train.sweep(config, Path(args.out), args.lr, args.force, args.json)
        else:
            result = train.train_run(config, Path(args.out), args.force, args.json)
    except (train.DataError, train.RunConflict, runs.TrainingBusy, ValueError, OSError) as error:
        raise CliError(str(error)) from error
    _print(result, args.json)
    results = result.get("sweep", [result])
    return 1 if any(r.get("state") == "failed" for r in results) else 0


def resume_note(config, run: Path) -> str:
    """What a resume continues with: the run's own settings unless an option changed them."""
    from deeprock.training import runs

    train = config.train
    patience = (f"early stopping after {train.patience} epochs without progress"
                if train.patience else "no early stopping")
    rows = runs.read_metrics(run)
    budget = runs.budget_note(train.max_minutes, rows)
    return (f"{run}: continuing from epoch {len(rows)} to {train.epochs} epochs, {patience}, "
            f"{budget}")


def _evaluate(args: argparse.Namespace) -> int:
    from deeprock.training.evaluate import EvaluationError, evaluate_run

    if not os.path.isfile(args.catalog):
        raise CliError(f"no catalog at {args.catalog}: run deeprock scan DIR --catalog "
                       f"{args.catalog} first")
    try:
        result = evaluate_run(Path(args.model), args.catalog, seq_len=args.seq_len,
                              unique_factor=args.unique_factor, max_windows=args.max_windows,
                              targets=args.targets, held_out_only=args.held_out)
    except (EvaluationError, ValueError, OSError) as error:
        raise CliError(str(error)) from error
    _print(result, args.json)
    return 0


def _print(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_finite(result)))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


def _finite(value):
    """JSON has no NaN: an undefined figure (no validation data) is null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
