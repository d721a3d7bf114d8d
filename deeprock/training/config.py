"""A run's configuration (config.json): every hyperparameter, the data it saw, where it ran.

    config = RunConfig(catalog="data/demo.sqlite", model=ModelSettings(arch="seed"))
    config.save(run / runs.CONFIG); RunConfig.load(run / runs.CONFIG) == config

`settings_key()` is what must match for a run folder to be resumed: the hyperparameters and
the data choice, not the facts recorded about them (token counts, device, library versions).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from deeprock.atomic import read_json, write_atomic
from deeprock.training.models import ModelSettings
from deeprock.training.split import DataSettings

FORMAT_VERSION = 1


@dataclass
class TrainSettings:
    epochs: int = 20
    batch_size: int = 64
    patience: int = 5  # epochs without a better val_loss before stopping (0: never)
    max_minutes: float = 0.0  # 0: no time budget
    augment_semitones: int = 0  # transpose training windows by up to ± this many semitones
    precision: str = "float32"  # or mixed_float16 / mixed_bfloat16 (GPU)
    jit_compile: str = "auto"  # "auto", "on", "off"
    distribute: str = "none"  # or "mirrored" (several GPUs of one machine)
    seed: int = 0
    any_artist_share: float = 0.15  # conditioned runs: windows trained as "any artist" (id 0)
    min_artist_files: int = 20  # conditioned runs: artists with fewer files share "other"


@dataclass
class RunConfig:
    catalog: str
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    selection: str | None = None
    selection_sha256: str | None = None
    facts: dict = field(default_factory=dict)  # counts, backend, device, versions: recorded
    init_from: str | None = None  # fine-tuning: the run folder whose weights this one continues

    def to_dict(self) -> dict:
        return {"format": FORMAT_VERSION, "catalog": self.catalog, "selection": self.selection,
                "init_from": self.init_from,
                "selection_sha256": self.selection_sha256, "model": asdict(self.model),
                "data": asdict(self.data), "train": asdict(self.train), "facts": self.facts}

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        version = data.get("format")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(f"run format {version!r} is newer than this version reads "
                             f"({FORMAT_VERSION}): update DeepRock Studio")
        try:
            # a run saved before bar positions has no "positions": its model reads none
            model = ModelSettings(**{"positions": False, **data["model"]})
            return cls(catalog=data["catalog"], model=model,
                       data=DataSettings(**data["data"]), train=TrainSettings(**data["train"]),
                       selection=data.get("selection"),
                       selection_sha256=data.get("selection_sha256"),
                       facts=dict(data.get("facts", {})), init_from=data.get("init_from"))
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed run config: {error}") from error

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunConfig) and self.to_dict() == other.to_dict()

    def settings_key(self) -> dict:
        """What a resumed run must share with the folder's run (epochs and the time budget may
        change: asking for more epochs continues the run)."""
        key = self.to_dict()
        del key["facts"]
        key["train"] = {k: v for k, v in key["train"].items()
                        if k not in ("epochs", "max_minutes", "patience")}
        return key

    def save(self, path: str | os.PathLike) -> None:
        write_atomic(path, json.dumps(self.to_dict(), indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunConfig:
        return cls.from_dict(read_json(path, "run config"))
