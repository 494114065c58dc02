"""The README's commands are the ones that work."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

from mmrec_assets_tests.conftest import REPO_ROOT

INSTALL_STEPS = [
    "python3 -m venv .venv",
    ". .venv/bin/activate",
    'pip install -e ".[dev]"',
]


def readme_command(marker: str) -> str:
    """The one-line command in the fenced block right after ``<!-- marker -->``."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", text, re.DOTALL)
    assert match, f"no {marker} block in README.md"
    return match.group(1).strip()


def test_ci_runs_the_readme_install_and_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for step in INSTALL_STEPS[:2] + ['pip install -e ".[dev]"', readme_command("test-command")]:
        assert step in ci, step


def test_readme_main_command_installs_then_runs_the_whole_graph(tmp_path):
    steps = [step.strip() for step in readme_command("main-command").split("&&")]
    # The install half is what CI itself runs in a fresh environment; here the project is
    # installed already, so the test runs what comes after it, exactly as written.
    assert steps[: len(INSTALL_STEPS)] == INSTALL_STEPS
    run = shlex.split(" ".join(steps[len(INSTALL_STEPS) :]))
    assert run[0] == "mmrec"
    executable = Path(sys.executable).with_name(run[0])

    env = {**os.environ, "MMREC_STORAGE_DIR": str(tmp_path / "storage")}
    env.pop("MMREC_DATA_DIR", None)
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run(
        [str(executable), *run[1:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    scores = re.findall(
        r"^\s+(text|image|fused)\s+accuracy ([\d.]+)\s+weighted F1 ([\d.]+)$",
        done.stdout,
        re.MULTILINE,
    )
    assert [name for name, _, _ in scores] == ["text", "image", "fused"], done.stdout
    f1 = {name: float(value) for name, _, value in scores}
    # The built-in sample is made so that neither branch alone is enough and fusion helps.
    assert f1["fused"] > max(f1["text"], f1["image"])

    predictions_path = re.search(r"^Predictions: (.+)$", done.stdout, re.MULTILINE).group(1)
    predictions = pd.read_parquet(predictions_path)
    assert len(predictions) == 60
