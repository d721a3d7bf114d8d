"""The run folder's one owner (deeprock/training/runs.py): its file names, its readers."""

from __future__ import annotations

import ast
from pathlib import Path

from deeprock.training import runs

ROOT = Path(__file__).resolve().parents[1]


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module, f-string pieces included."""
    return [(node.lineno, node.value) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_only_runs_py_spells_the_run_files():
    owner = ROOT / "deeprock" / "training" / "runs.py"
    # a .keras archive holds a config.json of its own (Keras's member, not the run's file)
    archive_reader = (ROOT / "deeprock" / "generation" / "weights.py", "config.json")
    found = [f"{path.relative_to(ROOT)}:{line}: {value!r}"
             for folder in ("deeprock", "pages") for path in sorted((ROOT / folder).rglob("*.py"))
             if path != owner for line, value in _string_constants(path)
             for name in runs.RUN_FILES if value == name or value.endswith("/" + name)
             if (path, value) != archive_reader]
    assert not found, "run file names spelled outside runs.py:\n" + "\n".join(found)


def test_read_run_returns_split_and_rhythm(tmp_path):
    from deeprock.training.config import RunConfig
    from deeprock.training.vocab import RunVocabulary

    config = RunConfig(catalog="c.sqlite")
    vocabulary = RunVocabulary(["<unk>", "E2", "A2"], [0, 5, 3], 2)
    config.save(tmp_path / runs.CONFIG)
    vocabulary.save(tmp_path / runs.VOCAB)
    (tmp_path / runs.BEST).write_bytes(b"")
    split = runs.RunSplit(train_files=(("root", "a.mid"), ("root", "b.mid")),
                          validation_files=(("root", "c.mid"),),
                          train_tracks=(("root", "a.mid", 1, 0), ("root", "b.mid", 2, 1)),
                          validation_tracks=(("root", "c.mid", 1, 0),))
    runs.write_json(tmp_path / runs.SPLIT, split.to_dict())
    runs.write_json(tmp_path / runs.RHYTHM, {"delta_counts": [1, 2]})
    files = runs.read_run(tmp_path)
    assert (files.config, files.vocabulary) == (config, vocabulary)
    assert files.split == split and runs.RunSplit.from_dict(split.to_dict()) == split
    assert files.rhythm == {"delta_counts": [1, 2]}
    for name in (runs.SPLIT, runs.RHYTHM):  # an older run without them still opens
        (tmp_path / name).unlink()
    assert (runs.read_run(tmp_path).split, runs.read_run(tmp_path).rhythm) == (runs.RunSplit(), {})
