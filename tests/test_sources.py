"""One source for what several modules share (the bar length lives in tokens.py alone), and
no requirement pinned that nothing uses."""

from __future__ import annotations

import ast
import re
from importlib.metadata import requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "deeprock").rglob("*.py"), *(ROOT / "pages").glob("*.py"),
                  ROOT / "app.py", *(ROOT / "scripts").rglob("*.py"),
                  *(ROOT / "bench").rglob("*.py")])
BAR_SOURCE = "deeprock/music/tokens.py"


def _four_times(node: ast.AST) -> bool:
    """4 * X or X * 4: a 4/4 bar built from a beat."""
    return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)
            and any(isinstance(side, ast.Constant) and side.value == 4
                    for side in (node.left, node.right)))


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(child, ast.Name) and child.id == name for child in ast.walk(node))


def bar_lengths(source: str) -> set[str]:
    """What in the source defines a bar length: a BAR constant, 4 beats of twelfths, a default."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for name in (t.id for t in targets if isinstance(t, ast.Name)):
                if "BAR" in name and ("BEATS" in name or _four_times(node.value)
                                      or _mentions(node.value, "TWELFTHS_PER_QUARTER")):
                    found.append(f"{name} = {ast.unparse(node.value)}")
        elif _four_times(node) and _mentions(node, "TWELFTHS_PER_QUARTER"):
            found.append(ast.unparse(node))
        elif isinstance(node, ast.arguments):
            named = node.posonlyargs + node.args
            defaults = zip(named[len(named) - len(node.defaults):], node.defaults, strict=True)
            found += [f"{arg.arg}={ast.unparse(default)}" for arg, default in defaults
                      if "bar" in arg.arg and "beats" in arg.arg
                      and isinstance(default, ast.Constant)]
    return set(found)


def test_the_bar_length_is_defined_in_tokens_alone():
    defined = {str(path.relative_to(ROOT)): found for path in SOURCES
               if (found := bar_lengths(path.read_text(encoding="utf-8")))}
    assert defined.pop(BAR_SOURCE) == {"BEATS_PER_BAR = 4",
                                       "TWELFTHS_PER_BAR = BEATS_PER_BAR * TWELFTHS_PER_QUARTER"}
    assert defined == {}, (
        f"import BEATS_PER_BAR / TWELFTHS_PER_BAR from {BAR_SOURCE} instead: {defined}")


def test_the_scan_finds_each_way_of_defining_a_bar():
    source = ("BAR_TWELFTHS = 4 * TWELFTHS_PER_QUARTER\nBEATS_PER_BAR = 4\nBAR = 4 * TPB\n"
              "EXCERPT_BARS = 4\nbar = x // (TWELFTHS_PER_QUARTER * 4)\n"
              "def f(onsets, beats_per_bar=4): ...\ndef g(beats_per_bar=BEATS_PER_BAR): ...\n")
    assert bar_lengths(source) == {"BAR_TWELFTHS = 4 * TWELFTHS_PER_QUARTER",
                                   "4 * TWELFTHS_PER_QUARTER", "BEATS_PER_BAR = 4",
                                   "BAR = 4 * TPB", "TWELFTHS_PER_QUARTER * 4",
                                   "beats_per_bar=4"}


# --- requirements.txt ------------------------------------------------------------------------

IMPORT_NAMES = {"pyguitarpro": "guitarpro"}  # distribution → the module it installs
# Pinned but never imported by us: a package we import needs them, and its release fixes theirs.
USED_THROUGH = {"jaxlib": "jax",  # JAX's compiled half (the Keras backend for multi-machine)
                "llvmlite": "numba",  # numba's compiler, released in step with numba
                "scipy": "jax"}  # JAX's dependency


def pinned(path: Path = ROOT / "requirements.txt") -> list[str]:
    """Distribution names of the file's pins (name==version), extras dropped."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [re.split(r"[\[=<>~!]", line)[0].strip().lower() for line in lines
            if line and not line.startswith("-")]


def imported_packages() -> set[str]:
    """Top-level packages any of SOURCES imports, at the top or inside a function."""
    found = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_every_pinned_requirement_is_imported_or_needed_by_one_that_is():
    names, imported = pinned(), imported_packages()
    assert "midi2audio" not in names and len(names) > 10
    unused = [name for name in names if name not in USED_THROUGH
              and IMPORT_NAMES.get(name, name) not in imported]
    assert not unused, f"pinned in requirements.txt but imported nowhere: {unused}"
    for name, user in USED_THROUGH.items():
        assert name in names and user in names and user in imported, (name, user)
        needs = {re.split(r"[\s\[=<>~!;]", r)[0].lower() for r in requires(user) or ()}
        assert name in needs, f"{user} no longer requires {name}: unpin it"
