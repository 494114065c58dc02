"""Shared settings and helpers: the tiny pipeline configuration, ports, background processes."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mmrec_assets.definitions import build_definitions
from mmrec_assets.resources import CatalogueSource, StorageFolder

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_SAMPLE = Path(
    os.environ.get("MMREC_REAL_SAMPLE_DIR", REPO_ROOT.parent / "shared" / "data" / "rakuten_sample")
)

# Small photos and few epochs: the point is that every step runs, not that the models are good.
TINY_RUN_CONFIG = {
    "ops": {
        "image_features_and_pixels": {"config": {"image_size": 32, "weights": "none"}},
        "text_lstm_model": {"config": {"epochs": 2, "sequence_length": 20}},
        "image_vgg16_model": {"config": {"epochs": 3}},
    }
}


# Columns of every predictions table, batch or not.
PREDICTION_COLUMNS = {
    "productid",
    "imageid",
    "predicted_prdtypecode",
    "probability",
    "top3_prdtypecodes",
    "top3_probabilities",
    "source",
    "image_problem",
    "model_version",
}


@pytest.fixture
def tiny_definitions(tmp_path):
    """Definitions over a fresh storage folder and a built-in sample of 3 products per class."""
    storage = StorageFolder(path=str(tmp_path / "storage"))
    return build_definitions(storage, CatalogueSource(sample_rows_per_class=3)), storage


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def executable(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def group_members(group: int) -> list[int]:
    """Processes of a process group that are still running (zombies left to init don't count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return []
        return [group]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(entry.name))
    return members


def signal_group(group: int, signal_number: int) -> None:
    try:
        os.killpg(group, signal_number)
    except ProcessLookupError:
        pass


def wait_for_group_exit(group: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (members := group_members(group)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return members


@contextmanager
def background(command: list[str], env: dict[str, str], log_path: Path) -> Iterator:
    """Run a command in a session of its own; on exit stop its whole process group for sure."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            # The daemon's run workers and both code servers are in the same group.
            signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            if wait_for_group_exit(process.pid, timeout=10):
                signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            left = wait_for_group_exit(process.pid, timeout=10)
            assert not left, f"{command[0]} left processes {left} running"
