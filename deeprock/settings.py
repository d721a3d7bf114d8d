"""Which dataset and catalog the app uses, kept in data/settings.json between runs.

DEEPROCK_SETTINGS points elsewhere (tests, several checkouts).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from deeprock.atomic import write_atomic

DEFAULT_DATASET = "data/demo"
DEFAULT_CATALOG = "data/demo.sqlite"


@dataclass
class Settings:
    dataset: str = DEFAULT_DATASET
    catalog: str = DEFAULT_CATALOG


def settings_path() -> Path:
    return Path(os.environ.get("DEEPROCK_SETTINGS", "data/settings.json"))


def load() -> Settings:
    """The saved settings; the demo dataset when none are saved or the file is unreadable."""
    try:
        saved = json.loads(settings_path().read_text(encoding="utf-8"))
        return Settings(dataset=str(saved["dataset"]), catalog=str(saved["catalog"]))
    except (OSError, ValueError, KeyError, TypeError):
        return Settings()


def save(settings: Settings) -> None:
    """Atomic: a temporary file renamed over the old one."""
    write_atomic(settings_path(), json.dumps(asdict(settings), indent=2))
