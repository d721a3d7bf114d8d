"""Batches built on the fly from int32 token arrays: a keras.utils.PyDataset, so every backend
(TensorFlow, JAX, torch) trains from the same code.

Memory grows with the tokens, not with windows x seq_len x vocabulary: a batch gathers its
windows by index arithmetic from the concatenated arrays, targets are sparse ids, and the post's
one-hot float64 Y (11 GB at full size) never exists.
"""

from __future__ import annotations

import numpy as np
from keras.utils import PyDataset

from deeprock.music.tokens import PITCH_NAMES, token_pitches
from deeprock.training.conditioning import window_artists
from deeprock.training.split import Side
from deeprock.training.vocab import RunVocabulary


class WindowBatches(PyDataset):
    """Batches of windows from `starts` into `side`.

    With `stride` > 1 an epoch takes one window in `stride` of the kept starts, a new random
    draw each epoch (seeded by seed and epoch, so a resumed run sees what an uninterrupted one
    would). `transpose` (a table from `transposition_table`) shifts each training window by a
    random interval, keeping the original where the shifted tokens leave the vocabulary (the
    rhythm and the bar positions stay). `positions`: feed each token's bar position (the
    model's "positions" input, models.takes_positions). `artists` (a conditioned run's): the
    artist id of each of the side's tracks, fed at every step of its windows as "artists";
    `any_share` of the windows, drawn each epoch, are fed as "any artist" (id 0) instead.
    """

    def __init__(self, side: Side, starts: np.ndarray, seq_len: int, batch_size: int, arch: str,
                 seed: int = 0, stride: int = 1, shuffle: bool = True,
                 transpose: np.ndarray | None = None, share: tuple[int, int] = (0, 1),
                 positions: bool = False, artists: np.ndarray | None = None,
                 any_share: float = 0.0) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.side, self.all_starts, self.seq_len = side, starts, seq_len
        self.batch_size, self.arch, self.seed = batch_size, arch, seed
        self.stride, self.shuffle, self.transpose = max(stride, 1), shuffle, transpose
        self.positions, self.artists, self.any_share = positions, artists, any_share
        self.share = share  # (this worker, workers): every worker draws the same epoch, and
        self.set_epoch(0)  # feeds its own equal slice of it

    def set_epoch(self, epoch: int) -> None:
        """Choose this epoch's windows and their order (called before each epoch): indices
        into the kept starts, 4 bytes a window; the starts themselves (memory-mapped in a run)
        are read a batch at a time."""
        rng = np.random.default_rng([self.seed, epoch])
        total = len(self.all_starts)
        order = np.arange(total, dtype=np.int32 if total < 2**31 else np.int64)
        if self.shuffle or self.stride > 1:
            rng.shuffle(order)  # the draws of rng.permutation(total), without its int64 copy
            # the same number of windows every epoch: Keras counts an epoch's steps once
            order = order[:max(total // self.stride, 1)]
        if not self.shuffle:
            order = order[np.argsort(self.all_starts[order], kind="stable")]
        index, count = self.share
        self.order = order[index:len(order) - len(order) % count:count]
        self.rng = np.random.default_rng([self.seed, epoch, index])

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)

    @property
    def windows(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int):
        order = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        starts = np.asarray(self.all_starts[order])
        positions = starts[:, None] + np.arange(self.seq_len + 1)
        ids = self.side.ids[positions]
        if self.transpose is not None:
            ids = self._transposed(ids)
        if self.arch == "seed":
            return ids[:, :-1, None].astype(np.float32), ids[:, -1]
        x = {"tokens": ids[:, :-1], "deltas": self.side.delta[positions[:, :-1]],
             "durations": self.side.duration[positions[:, :-1]], "next_tokens": ids[:, 1:]}
        if self.positions:
            x["positions"] = self.side.position[positions[:, :-1]]
        if self.artists is not None:
            x["artists"] = np.repeat(self._artists(starts)[:, None], self.seq_len, axis=1)
        y = {"next_token": ids[:, 1:], "next_delta": self.side.delta[positions[:, 1:]],
             "next_duration": self.side.duration[positions[:, 1:]]}
        return x, y

    def _artists(self, starts: np.ndarray) -> np.ndarray:
        ids = window_artists(self.side.offsets, self.artists, starts)
        if self.any_share:
            ids = np.where(self.rng.random(len(ids)) < self.any_share, 0, ids)
        return ids.astype(np.int32)

    def _transposed(self, ids: np.ndarray) -> np.ndarray:
        shifts = self.rng.integers(0, self.transpose.shape[1], len(ids))
        moved = self.transpose[ids, shifts[:, None]]
        usable = (moved >= 0).all(axis=1)
        return np.where(usable[:, None], moved, ids).astype(np.int32)


def transposition_table(vocabulary: RunVocabulary, semitones: int) -> np.ndarray:
    """table[id, k]: the run id of token `id` moved by k - semitones, -1 where the moved token
    is not in the vocabulary (or leaves MIDI's range); <unk> stays <unk>."""
    shifts = range(-semitones, semitones + 1)
    table = np.full((len(vocabulary), len(shifts)), -1, dtype=np.int32)
    table[0, :] = 0
    for token_id, token in enumerate(vocabulary.tokens[1:], start=1):
        pitches = token_pitches(token)
        for column, shift in enumerate(shifts):
            moved = [p + shift for p in pitches]
            if all(0 <= p < 128 for p in moved):
                name = " ".join(PITCH_NAMES[p] for p in moved)
                table[token_id, column] = vocabulary.id(name) or -1
    return table
