"""Subcommands of this stage for `deeprock` (registered by deeprock/cli.py)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands; heavy imports happen inside each command."""
