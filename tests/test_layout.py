"""The package's imports run one way (docs/architecture.md): no circle, no arrow back up."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "deeprock"

# pages → generation → training/tab → app/corpus → music → shared helpers
LAYERS = {"base": 0, "music": 1, "corpus": 2, "app": 3, "tab": 3, "training": 4,
          "generation": 5, "cli": 6}
BASE = {"atomic", "filelock", "settings", "devices"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every deeprock module the file imports, top level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deeprock"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
    return found & known


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, set(paths)) - {name} for name, path in paths.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 2 and parts[1] in BASE:
        return LAYERS["base"]
    if len(parts) == 2 and parts[1] in ("cli", "cliutil", "__init__"):
        return LAYERS["cli"] if parts[1] == "cli" else LAYERS["corpus"] + 0.5
    return LAYERS.get(parts[1], LAYERS["cli"]) if len(parts) > 1 else LAYERS["cli"]


def test_no_import_circles():
    graph = import_graph()
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for child in sorted(graph[name]):
            assert state.get(child) != 1, "import circle: " + " -> ".join([*path, child])
            if child not in state:
                visit(child, [*path, child])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_imports_point_down():
    upward = [f"{name} -> {child}" for name, children in import_graph().items()
              for child in children
              if layer(child) > layer(name) or (layer(child) == layer(name)
                                                and child.split(".")[:2] != name.split(".")[:2]
                                                and layer(name) > 0)]
    assert upward == []


def test_the_layers_cover_every_folder():
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert folders == set(LAYERS) - {"base", "cli"}
    assert not [p.name for p in PACKAGE.glob("*.py")
                if p.stem not in BASE | {"__init__", "cli", "cliutil"}]


def test_the_architecture_doc_is_the_reference_and_names_every_module():
    """docs/architecture.md replaced DESIGN.md (outside the repository) as what code cites, and
    it stays true when a module is added: each module file is named there."""
    import re

    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]
    citing = [str(p.relative_to(ROOT)) for p in sources if "DESIGN.md" in p.read_text()]
    assert citing == []
    doc = (ROOT / "docs" / "architecture.md").read_text()
    modules = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
               if p.name != "__init__.py"]
    unnamed = [m for m in modules
               if not re.search(r"(?<![\w/.])(deeprock/)?" + re.escape(m) + r"(?!\w)", doc)]
    assert unnamed == []
