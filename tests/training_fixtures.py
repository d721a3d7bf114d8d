"""Small catalogs and tiny runs for the training tests (and the pages' tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from deeprock.corpus import demo
from deeprock.corpus.scan import scan

TINY = ["--units", "16", "--embedding", "8", "--seq-len", "16", "--batch-size", "32",
        "--unique-factor", "4"]


def demo_catalog(folder: Path, files: int = 40, seed: int = 3) -> Path:
    """A scanned demo corpus (duplicates, versions and all) of `files` files."""
    songs = folder / "songs"
    demo.generate(songs, files=files, seed=seed)
    catalog = folder / "demo.sqlite"
    scan([str(songs)], str(catalog), jobs=1)
    return catalog


def deeprock_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "deeprock.cli", *args]


def train_command(catalog: Path, out: Path, *extra: str) -> list[str]:
    return deeprock_command("train", "--catalog", str(catalog), "--out", str(out),
                            "--no-selection", *TINY, *extra)


def run_cli(args: list[str], lock: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEEPROCK_TRAIN_LOCK": str(lock), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


def json_output(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return json.loads(result.stdout)
