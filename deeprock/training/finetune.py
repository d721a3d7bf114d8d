"""Fine-tuning: a finished run's weights continued on a selection (one artist's songs, a user's
folder) at a lower rate, with early stopping on that selection's held-out songs.

    config = finetune_config(Path("models/general"), FinetuneChoice(artists=["nirvana"]))
    train_run(config, Path("models/nirvana"))      # config.init_from = "models/general"

The new run keeps its parent's network, vocabulary (the weights' rows) and artist table, and
records the parent in config.json (`init_from`); it resumes like any run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from deeprock.training import runs
from deeprock.training.config import RunConfig
from deeprock.training.split import DataError, TrainingData
from deeprock.training.tokenfiles import chunked_bincount

LEARNING_RATE_DIVISOR = 10  # the parent's rate / this, unless one is given
MAX_UNKNOWN_SHARE = 0.5  # more of the selection's tokens outside the parent's vocabulary: refused


@dataclass
class FinetuneChoice:
    """What the fine-tuning changes; None: the parent's own."""

    catalog: str | None = None
    selection: str | None = None
    artists: list[str] = field(default_factory=list)
    arch: str | None = None  # only to refuse another architecture clearly
    learning_rate: float | None = None
    epochs: int = 5
    patience: int = 2
    max_minutes: float = 0.0


def finetune_config(parent: Path, choice: FinetuneChoice) -> RunConfig:
    """The new run's config: the parent's model and data settings, the selection and schedule
    chosen; a ValueError names both runs' architectures when they differ."""
    try:
        files = runs.read_run(parent)
    except runs.RunFolderError as error:
        raise ValueError(f"--init-from {parent}: {error}") from error
    config = files.config
    if choice.arch and choice.arch != config.model.arch:
        raise ValueError(f"--init-from {parent} is a {config.model.arch} run and --arch asks "
                         f"for {choice.arch}: fine-tuning continues the run's own network "
                         "(leave --arch out, or train a fresh run)")
    rate = choice.learning_rate or config.model.learning_rate / LEARNING_RATE_DIVISOR
    return RunConfig(
        catalog=choice.catalog or config.catalog, selection=choice.selection,
        model=replace(config.model, learning_rate=rate),
        data=replace(config.data, artists=list(choice.artists)),
        train=replace(config.train, epochs=choice.epochs, patience=choice.patience,
                      max_minutes=choice.max_minutes),
        init_from=str(parent))


def check_vocabulary_fit(config: RunConfig, data: TrainingData) -> None:
    """Refuse a selection the parent cannot read: most of its tokens outside the parent's
    vocabulary (another catalog's tokens, another tokenization)."""
    counts = chunked_bincount(data.train.ids, len(data.vocabulary))  # bounded memory
    unknown = float(counts[0] / max(counts.sum(), 1))
    if unknown > MAX_UNKNOWN_SHARE:
        raise DataError(f"{unknown:.0%} of the selection's training tokens (catalog "
                        f"{config.catalog}) are outside the vocabulary of run "
                        f"{config.init_from} ({len(data.vocabulary)} tokens): its weights "
                        "cannot read this music; train a fresh run on it instead")


def parent_model(config: RunConfig, jit_compile):
    """The parent's best weights, compiled at this run's rate (a fresh optimizer)."""
    from deeprock.training.models import compile_model, load_model

    model = load_model(str(Path(config.init_from) / runs.BEST))
    compile_model(model, config.model, jit_compile)
    return model
