"""What a riff is measured against: its run's training songs, and how much unseen songs copy.

    reference = dataset_reference(run)            # split.json's tracks (primers.run_streams)
    reference.stats                               # stats.dataset_stats of the training side
    reference.longest_copy(riff)                  # the generated part's longest verbatim copy
    reference.validation_copy                     # the same figure for validation songs
    reference.structure                           # structure.dataset_structure of the same

The copy figure of a riff only counts its generated part (a primer is copied by definition).
As a reference, validation songs are cut into chunks of a riff's length and each chunk's
longest copy from the training songs is taken (100 chunks spread over the side at most): a
riff should not copy more than the median unseen real song does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprock.generation.copyindex import CopyIndex
from deeprock.generation.riff import Riff
from deeprock.generation.stats import RUN_CHUNK_TOKENS, dataset_stats
from deeprock.generation.structure import dataset_structure

VALIDATION_CHUNKS = 100  # chunks measured for the validation figure (~35 ms each on 1.2M tokens)
STRUCTURE_TRACKS = 200  # training tracks measured for the bar measures (~40 ms each, pure Python)


@dataclass
class DatasetReference:
    stats: dict
    index: CopyIndex
    token_ids: dict[str, int]
    validation_copy: float  # median over validation chunks of RUN_CHUNK_TOKENS
    validation_copy_p90: float
    structure: dict  # bar repetition, groove, scale: median, p10, p90 over training tracks

    def longest_copy(self, riff: Riff) -> int:
        generated = riff.generated().tokens
        ids = np.array([self.token_ids.get(t, -1) for t in generated], np.int64)
        # a token the training side never had cannot be part of a copy: split there
        pieces = np.split(ids, np.flatnonzero(ids < 0))
        return max((self.index.longest_copy(p[p >= 0]) for p in pieces if len(p[p >= 0])),
                   default=0)


def dataset_reference(run, catalog_path: str | None = None) -> DatasetReference:
    """The run's training side (statistics, copy index) and the validation copy figure."""
    from deeprock.generation.primers import run_streams

    read = run_streams(catalog_path or run.config.catalog, run.split)
    train, validation = ([s for s in side if len(s.ids)] for side in (read.train, read.validation))
    tokens = read.tokens
    index = CopyIndex([s.ids for s in train])
    stats = dataset_stats([s.ids for s in train], tokens, [s.delta for s in train])
    chunks = [stream.ids[start:start + RUN_CHUNK_TOKENS] for stream in validation
              for start in range(0, max(len(stream.ids) - RUN_CHUNK_TOKENS, 0) + 1,
                                 RUN_CHUNK_TOKENS)]
    # evenly spread over the validation side: the figure is a median, 100 chunks pin it down
    picked = np.unique(np.linspace(0, len(chunks) - 1, min(len(chunks), VALIDATION_CHUNKS))
                       .astype(int)) if chunks else []
    copies = [index.longest_copy(chunks[i]) for i in picked]
    return DatasetReference(stats, index, {token: i for i, token in enumerate(tokens)},
                            float(np.median(copies)) if copies else float("nan"),
                            float(np.percentile(copies, 90)) if copies else float("nan"),
                            _structure(train, tokens))


def _structure(train: list, tokens: list[str]) -> dict:
    """The bar measures over at most STRUCTURE_TRACKS training tracks, evenly spread: all
    3,186 guitar tracks of the shared corpus take two minutes, 200 pin the percentiles down."""
    picked = np.unique(np.linspace(0, len(train) - 1, min(len(train), STRUCTURE_TRACKS))
                       .astype(int)) if train else []
    return dataset_structure([train[i].ids for i in picked], tokens,
                             [train[i].delta for i in picked])


STRUCTURE_LABELS = {"exact_repeat": "bars that repeat an earlier bar exactly",
                    "near_repeat": "bars that nearly repeat one (Jaccard >= 0.5)",
                    "groove": "groove consistency", "scale_consistency": "scale consistency"}


def comparison_rows(riff_stats: dict, reference: DatasetReference | None,
                    copied: int | None, structure: dict | None = None) -> list[dict]:
    """The riff's statistics beside the dataset's, one row per figure, for a table; structure:
    the riff's bar measures (structure.riff_structure), beside the training tracks' median
    and p10-p90."""
    from deeprock.generation.stats import pitch_class_distance

    dataset = reference.stats if reference is not None else {}

    def shown(value):
        if isinstance(value, float):
            return f"{value:.2f}"
        return "-" if value is None else str(value)

    keys = [("pitch_range", "pitch range (MIDI)"), ("notes_per_bar", "notes per bar"),
            ("chord_share", "share of chords"), ("distinct_per_32", "distinct tokens per 32"),
            ("longest_repeat", "longest run of one token")]
    rows = [{"figure": label, "riff": shown(riff_stats.get(key)),
             "dataset": shown(dataset.get(key))} for key, label in keys]
    rows[-1]["dataset"] = (f"p99 over {RUN_CHUNK_TOKENS}-token chunks: "
                           f"{shown(dataset.get('longest_repeat_p99'))}")
    rows.append({"figure": "distinct time gaps", "riff": shown(riff_stats.get("distinct_gaps")),
                 "dataset": "-"})
    if reference is not None:
        distance = pitch_class_distance(riff_stats["pitch_class_histogram"],
                                        dataset["pitch_class_histogram"])
        rows.append({"figure": "pitch-class distance to the dataset", "riff": shown(distance),
                     "dataset": "0"})
        rows.append({"figure": "longest copy from training (generated part)",
                     "riff": shown(copied),
                     "dataset": f"validation songs: median {shown(reference.validation_copy)}, "
                                f"p90 {shown(reference.validation_copy_p90)}"})
    for key, label in STRUCTURE_LABELS.items() if structure else ():
        known = (reference.structure or {}).get(key) if reference is not None else None
        rows.append({"figure": label, "riff": shown(structure.get(key)),
                     "dataset": (f"median {known['median']:.2f} (p10-p90 {known['p10']:.2f}-"
                                 f"{known['p90']:.2f})" if known else "-")})
    return rows
