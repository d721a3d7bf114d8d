"""The set-up promise: `make run` / `make test` and `bash .ci/run` stay wired together."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?==[^=\s;]+(\s*;.+)?$")


def _make_env() -> dict[str, str]:
    # pytest may itself run under `make test`: do not inherit its flags or jobserver.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    env.pop("PYTEST_ARGS", None)
    return env


def _dry_run(target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target],
        capture_output=True,
        text=True,
        env=_make_env(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_system_deps_script_parses():
    script = ROOT / "scripts" / "system-deps.sh"
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "set -euo pipefail" in script.read_text()


def test_ci_run_only_runs_make_test():
    ci_run = ROOT / ".ci" / "run"
    assert ci_run.is_file()
    assert os.access(ci_run, os.X_OK), ".ci/run must be executable"
    lines = ci_run.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    commands = [
        line.strip()
        for line in lines[1:]
        if line.strip()
        and not line.strip().startswith("#")
        and not line.strip().startswith(("set ", "cd "))
    ]
    assert [re.sub(r"^exec\s+", "", c) for c in commands] == ["make test"]


def test_make_test_runs_ruff_and_pytest():
    out = _dry_run("test")
    assert "scripts/system-deps.sh" in out
    assert ".venv/bin/ruff check ." in out
    assert ".venv/bin/pytest -q" in out
    # ruff runs before pytest: a lint error stops the suite early and visibly.
    assert out.index("ruff check") < out.index("pytest -q")


def test_make_run_starts_streamlit_on_the_demo():
    out = _dry_run("run")
    assert "streamlit run app.py --server.port 8501" in out


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_requirements_are_pinned(name):
    pinned = 0
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#") or line.startswith("-r "):
            continue
        assert PIN.match(line), f"{name}: not pinned with ==: {raw!r}"
        pinned += 1
    assert pinned > 0
