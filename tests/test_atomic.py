"""Saving never leaves half a file, nor a temporary one."""

from __future__ import annotations

import os

import pytest

from deeprock.atomic import write_atomic


def test_write_replaces_whole_and_cleans_up(tmp_path):
    path = tmp_path / "sub" / "data.json"
    write_atomic(path, "first")
    write_atomic(path, b"second")
    assert path.read_text() == "second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "data.json"
    write_atomic(path, "old")

    def broken_replace(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]
