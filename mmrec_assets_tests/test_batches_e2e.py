"""Landed batches through a real daemon and webserver: one run per batch, one refresh backfill.

The models are trained once in this process on a tiny sample, into a storage folder and a
DAGSTER_HOME that a real ``dagster-daemon`` and ``dagster-webserver`` then share. Batches are
dropped into the landing folder the way a copy job would; the refresh backfill is launched and the
sensor's cursor reset with the commands a user would type. Slow steps overlap where the order does
not matter (the daemons start while the models train, the cursor is reset while the backfill waits
for the daemon), so the whole test takes a few minutes on two cores.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
import requests
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
)

from mmrec_assets.definitions import build_definitions
from mmrec_assets.ml.batches import READY_MARKER
from mmrec_assets.ml.sample import PRDTYPECODES, generate_sample
from mmrec_assets.resources import CatalogueSource, LandingFolder, StorageFolder
from mmrec_assets.sensors import BATCH_JOB, FULL_PIPELINE_JOB
from mmrec_assets_tests.conftest import (
    PREDICTION_COLUMNS,
    REPO_ROOT,
    TINY_RUN_CONFIG,
    background,
    executable,
    free_port,
    group_members,
)

if TYPE_CHECKING:
    from dagster._core.execution.backfill import PartitionBackfill

SENSOR = "new_batch_sensor"
PARTITIONS = "batches"
PARTITION_TAG = "dagster/partition"
BACKFILL_TAG = "dagster/backfill"
LOADING_MODEL = "Loading model fused_model"

FIRST_BATCHES = ("b001", "b002")
LATE_BATCH = "b003"
PENDING_BATCH = "b004"
UNSAFE_NAME = "bad name"
PRODUCTS_PER_BATCH = 6

WAIT_SECONDS = 240
FINISHED_RUN = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
FINISHED_TICK = {"SUCCESS", "SKIPPED", "FAILURE"}
COLOUR_CODES = re.compile(r"\x1b\[[0-9;]*m")
FINISHED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

# Two runs at a time, and a queue checked every second, keep the test short on two cores.
INSTANCE_YAML = """\
run_queue:
  max_concurrent_runs: 2
  dequeue_interval_seconds: 1
telemetry:
  enabled: false
"""


@dataclass
class Deployment:
    """The shared instance and folders, and the daemon and webserver serving them."""

    instance: DagsterInstance
    storage: Path
    landing: Path
    env: dict[str, str]
    url: str
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen]

    def tails(self, lines: int = 60) -> str:
        """The last lines of every process log, to read when something did not happen."""
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace") if path.exists() else ""
            text = COLOUR_CODES.sub("", text).splitlines()[-lines:]
            parts.append(f"----- last lines of {name} ({path}) -----\n" + "\n".join(text))
        return "\n".join(parts)

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
        """Poll ``condition`` until it returns something true, and return that."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise AssertionError(f"{name} exited waiting for {what}\n{self.tails()}")
            found = condition()
            if found:
                return found
            time.sleep(1)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.tails()}")

    def current_version(self, batch: str) -> str | None:
        pointer = self.storage / "batch_predictions" / "partitions" / batch / "CURRENT"
        return pointer.read_text().strip() if pointer.exists() else None

    def predictions(self, batch: str) -> pd.DataFrame:
        folder = self.storage / "batch_predictions" / "partitions" / batch / "versions"
        return pd.read_parquet(folder / self.current_version(batch) / "table.parquet")


def make_batch_sources(folder: Path, names: list[str]) -> dict[str, Path]:
    """A generated sample per batch name, each with its own products and photos."""
    sources = {}
    for seed, name in enumerate(names, start=1):
        sample = generate_sample(
            folder / f"sample_{seed}",
            rows_per_class=1,
            unlabelled_rows=PRODUCTS_PER_BATCH,
            image_px=64,
            seed=seed,
        )
        sources[name] = sample.root / "unlabelled"
        assert not (sources[name] / "Y.csv").exists()
    return sources


def drop_batch(landing: Path, source: Path, name: str, ready: bool = True) -> None:
    """Copy a batch into the landing folder, writing the marker last as a copy job would."""
    shutil.copytree(source, landing / name)
    if ready:
        (landing / name / READY_MARKER).touch()


def train_models(instance: DagsterInstance, storage: Path, landing: Path) -> str:
    """Train every model in this process on a tiny sample; return the fused model's version."""
    defs = build_definitions(
        StorageFolder(path=str(storage)),
        CatalogueSource(sample_rows_per_class=3),
        LandingFolder(path=str(landing)),
    )
    trained = defs.resolve_job_def(FULL_PIPELINE_JOB).execute_in_process(
        run_config=TINY_RUN_CONFIG, instance=instance
    )
    assert trained.success
    return (storage / "fused_model" / "CURRENT").read_text().strip()


def all_run_ids(instance: DagsterInstance) -> set[str]:
    return {record.dagster_run.run_id for record in instance.get_run_records()}


def started_batch_runs(instance: DagsterInstance) -> list[DagsterRun]:
    waiting = {DagsterRunStatus.NOT_STARTED, DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING}
    return [
        run for runs in batch_runs(instance).values() for run in runs if run.status not in waiting
    ]


def batch_runs(instance: DagsterInstance) -> dict[str, list[DagsterRun]]:
    """Runs of the batch job, by the partition they were launched for."""
    runs: dict[str, list[DagsterRun]] = {}
    for record in instance.get_run_records(RunsFilter(job_name=BATCH_JOB)):
        run = record.dagster_run
        runs.setdefault(run.tags.get(PARTITION_TAG, ""), []).append(run)
    return runs


def failure_report(instance: DagsterInstance, run: DagsterRun) -> str:
    """What went wrong in a run, from its step and run failure events."""
    lines = [f"run {run.run_id} of {run.job_name} ({run.tags.get(PARTITION_TAG)}): {run.status}"]
    failures = {DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}
    for entry in instance.all_logs(run.run_id, of_type=failures):
        event = entry.dagster_event
        error = getattr(event.event_specific_data, "error", None)
        lines.append(error.to_string() if error else str(event.message))
    return "\n".join(lines)


def wait_for_batches(deployment: Deployment, batches: list[str]) -> None:
    """Wait until every batch has a finished run and published predictions; fail on a failure."""
    instance = deployment.instance

    def finished() -> bool:
        runs = batch_runs(instance)
        for batch in batches:
            for run in runs.get(batch, []):
                if run.status in FINISHED_RUN and run.status != DagsterRunStatus.SUCCESS:
                    raise AssertionError(failure_report(instance, run) + "\n" + deployment.tails())
        return all(
            any(run.status == DagsterRunStatus.SUCCESS for run in runs.get(batch, []))
            and deployment.current_version(batch) is not None
            for batch in batches
        )

    deployment.wait(finished, f"successful runs of {', '.join(batches)}")


def assert_one_successful_run_per_batch(deployment: Deployment, batches: list[str]) -> None:
    runs = batch_runs(deployment.instance)
    assert sorted(runs) == sorted(batches), f"batch runs by partition: {runs}"
    for batch in batches:
        assert len(runs[batch]) == 1, f"{batch} ran {len(runs[batch])} times"
        assert runs[batch][0].status == DagsterRunStatus.SUCCESS
    registered = deployment.instance.get_dynamic_partitions(PARTITIONS)
    assert sorted(registered) == sorted(batches)


def assert_predictions(deployment: Deployment, batch: str, model_version: str) -> None:
    """One row per product of the batch, each a valid prediction by the current model."""
    products = pd.read_csv(deployment.landing / batch / "X.csv", index_col=0)
    predictions = deployment.predictions(batch)

    assert PREDICTION_COLUMNS <= set(predictions.columns), list(predictions.columns)
    assert len(predictions) == PRODUCTS_PER_BATCH
    assert sorted(predictions["productid"]) == sorted(products["productid"])
    assert set(predictions["predicted_prdtypecode"]) <= set(PRDTYPECODES)
    assert predictions["probability"].between(0, 1).all()
    for top3, predicted in zip(
        predictions["top3_prdtypecodes"], predictions["predicted_prdtypecode"], strict=True
    ):
        assert len(top3) == 3 and top3[0] == predicted
    assert set(predictions["model_version"]) == {model_version}
    # The generated batch leaves out one photo; that product is predicted from its text.
    assert (predictions["source"] == "text only").sum() == 1


def sensor_ticks(instance: DagsterInstance, after: float) -> list:
    """Finished ticks of the batch sensor that started after a time, oldest first."""
    ticks = []
    for state in instance.all_instigator_state():
        if state.instigator_name == SENSOR:
            ticks.extend(
                instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after)
            )
    return sorted(
        (tick for tick in ticks if tick.status.value in FINISHED_TICK),
        key=lambda tick: tick.timestamp,
    )


def reset_sensor_cursor(deployment: Deployment, batches: list[str]) -> float:
    """Delete the sensor's cursor with the CLI; return when a tick has evaluated without it.

    A tick that was already being evaluated when the cursor was deleted writes back the cursor
    it started with. When the first tick that starts after the command still remembers the
    batches, that happened, and the delete is repeated (at most twice more).

    Returns:
        The start time of the tick that saw no cursor.
    """
    command = [executable("dagster"), "sensor", "cursor", SENSOR, "--delete"]
    command += ["-w", "workspace.yaml"]
    expected_keys = {f"batch:{batch}" for batch in batches}

    def outcome(launched_at: float, returned_at: float) -> tuple[str, float] | None:
        for tick in sensor_ticks(deployment.instance, after=launched_at):
            if expected_keys <= set(tick.tick_data.run_keys):
                return "reset", tick.timestamp
            if tick.timestamp > returned_at:
                return "written back", tick.timestamp
        return None

    for _ in range(3):
        launched_at = time.time()
        reset = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=deployment.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert reset.returncode == 0, reset.stdout + reset.stderr
        returned_at = time.time()
        result, tick_time = deployment.wait(
            partial(outcome, launched_at, returned_at),
            "a sensor tick after the cursor reset",
            timeout=60,
        )
        if result == "reset":
            return tick_time
    raise AssertionError(f"the sensor cursor reset never took effect\n{deployment.tails()}")


def finished_backfill(instance: DagsterInstance, backfill_id: str) -> PartitionBackfill | None:
    backfill = instance.get_backfill(backfill_id)
    return backfill if backfill and backfill.status.value in FINISHED_BACKFILL else None


def launch_backfill(deployment: Deployment) -> str:
    """Launch the refresh backfill with the ``mmrec`` command, once the webserver answers."""

    def serves_batch_predictions() -> bool:
        query = "{ assetNodes { assetKey { path } } }"
        try:
            answer = requests.post(f"{deployment.url}/graphql", json={"query": query}, timeout=10)
        except requests.RequestException:
            return False
        nodes = (answer.json().get("data") or {}).get("assetNodes") if answer.ok else None
        return any(node["assetKey"]["path"] == ["batch_predictions"] for node in nodes or [])

    deployment.wait(serves_batch_predictions, "the webserver to serve batch_predictions")
    launch = subprocess.run(
        [executable("mmrec"), "backfill-predictions", "--url", deployment.url],
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert launch.returncode == 0, launch.stdout + launch.stderr
    match = re.search(r"Backfill (\S+) launched", launch.stdout)
    assert match, launch.stdout
    return match.group(1)


@pytest.mark.slow
def test_landed_batches_run_once_each_and_one_backfill_refreshes_them_all(tmp_path):
    home, storage, landing = tmp_path / "dagster_home", tmp_path / "storage", tmp_path / "landing"
    home.mkdir()
    landing.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    sources = make_batch_sources(
        tmp_path / "sources", [*FIRST_BATCHES, LATE_BATCH, PENDING_BATCH, UNSAFE_NAME]
    )
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MMREC_STORAGE_DIR": str(storage),
        "MMREC_LANDING_DIR": str(landing),
        "MMREC_DATA_DIR": "",
        "MMREC_SENSOR_INTERVAL_SECONDS": "2",
        "DAGSTER_DISABLE_TELEMETRY": "yes",
    }
    logs = {"daemon": tmp_path / "daemon.log", "webserver": tmp_path / "webserver.log"}
    commands = {
        "daemon": [executable("dagster-daemon"), "run", "-w", "workspace.yaml"],
        "webserver": [executable("dagster-webserver"), "-w", "workspace.yaml"]
        + ["-h", "127.0.0.1", "-p", str(port)],
    }

    with ExitStack() as stack:
        instance = stack.enter_context(DagsterInstance.from_config(str(home)))
        # The daemon and the webserver start while the models train: both take a while.
        processes = {
            name: stack.enter_context(background(command, env, logs[name]))
            for name, command in commands.items()
        }
        deployment = Deployment(
            instance, storage, landing, env, f"http://127.0.0.1:{port}", logs, processes
        )
        model_version = train_models(instance, storage, landing)

        # Two complete batches, one still being copied and one whose name cannot be a partition;
        # a third complete batch lands once the first run has started.
        for name in FIRST_BATCHES:
            drop_batch(landing, sources[name], name)
        drop_batch(landing, sources[PENDING_BATCH], PENDING_BATCH, ready=False)
        drop_batch(landing, sources[UNSAFE_NAME], UNSAFE_NAME)
        deployment.wait(lambda: started_batch_runs(instance), "the first batch run to start")
        drop_batch(landing, sources[LATE_BATCH], LATE_BATCH)

        # The tick that requested the late batch saw the pending one without its marker.
        complete = [*FIRST_BATCHES, LATE_BATCH]
        deployment.wait(
            lambda: set(complete) <= set(batch_runs(instance)), "a run requested for each batch"
        )
        assert set(batch_runs(instance)) == set(complete)
        assert sorted(instance.get_dynamic_partitions(PARTITIONS)) == complete
        (landing / PENDING_BATCH / READY_MARKER).touch()
        complete.append(PENDING_BATCH)

        wait_for_batches(deployment, complete)
        assert_one_successful_run_per_batch(deployment, complete)
        for batch in complete:
            assert_predictions(deployment, batch, model_version)

        # The cursor is reset while the backfill waits for the daemon's next pass (every 30 s).
        runs_before = all_run_ids(instance)
        versions_before = {batch: deployment.current_version(batch) for batch in complete}
        backfill_id = launch_backfill(deployment)
        reset_tick = reset_sensor_cursor(deployment, complete)
        backfill = deployment.wait(
            partial(finished_backfill, instance, backfill_id), f"backfill {backfill_id} to finish"
        )
        deployment.wait(
            lambda: len(sensor_ticks(instance, after=reset_tick)) >= 2,
            "two more sensor ticks",
            timeout=60,
        )

        # After the reset the sensor requested every batch again and Dagster launched none.
        backfill_runs = [
            record.dagster_run
            for record in instance.get_run_records(RunsFilter(tags={BACKFILL_TAG: backfill_id}))
        ]
        assert all_run_ids(instance) - runs_before == {run.run_id for run in backfill_runs}
        assert_one_successful_run_per_batch(deployment, complete)

        # One run refreshed every batch, loading the model once.
        assert len(backfill_runs) == 1, [run.run_id for run in backfill_runs]
        run = backfill_runs[0]
        assert run.status == DagsterRunStatus.SUCCESS, failure_report(instance, run)
        assert backfill.status.value == "COMPLETED_SUCCESS"
        for batch in complete:
            version = deployment.current_version(batch)
            assert version != versions_before[batch]
            assert version.endswith(run.run_id[:12]), (batch, version, run.run_id)
            assert_predictions(deployment, batch, model_version)

        events = instance.all_logs(run.run_id)
        materialized = {
            entry.dagster_event.partition
            for entry in events
            if entry.dagster_event
            and entry.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION
            and entry.dagster_event.asset_key.to_user_string() == "batch_predictions"
        }
        assert materialized == set(complete)
        loads = [entry for entry in events if LOADING_MODEL in (entry.user_message or "")]
        assert len(loads) == 1, [entry.user_message for entry in loads]

    for name, process in processes.items():
        assert process.returncode is not None, name
        assert not group_members(process.pid), f"{name} left processes behind"
