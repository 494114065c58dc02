"""Per-batch assets in process: one batch at a time, then one run over many batches."""

import shutil

import pandas as pd
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, instance_for_test
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from mmrec_assets.definitions import build_definitions
from mmrec_assets.io_managers import TABLE_FILE, partition_artifact
from mmrec_assets.ml.batches import READY_MARKER
from mmrec_assets.ml.sample import generate_sample
from mmrec_assets.partitions import batch_partitions
from mmrec_assets.resources import CatalogueSource, LandingFolder, StorageFolder
from mmrec_assets.sensors import BATCH_JOB, FULL_PIPELINE_JOB
from mmrec_assets_tests.conftest import PREDICTION_COLUMNS, TINY_RUN_CONFIG

BATCHES = ["b1", "b2", "b3"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Models trained on a tiny sample, a landing folder with three batches, an instance."""
    root = tmp_path_factory.mktemp("batches")
    storage = StorageFolder(path=str(root / "storage"))
    landing = root / "landing"
    defs = build_definitions(
        storage, CatalogueSource(sample_rows_per_class=3), LandingFolder(path=str(landing))
    )
    generate_sample(root / "source", rows_per_class=1, unlabelled_rows=6, image_px=64, seed=7)
    for name in BATCHES:
        shutil.copytree(root / "source" / "unlabelled", landing / name)
        (landing / name / READY_MARKER).touch()

    (root / "home").mkdir()
    with instance_for_test(temp_dir=str(root / "home")) as instance:
        trained = defs.resolve_job_def(FULL_PIPELINE_JOB).execute_in_process(
            run_config=TINY_RUN_CONFIG, instance=instance
        )
        assert trained.success
        instance.add_dynamic_partitions(batch_partitions.name, BATCHES)
        yield defs, storage.store(), instance, root


def read_predictions(store, name):
    path = store.current_path(partition_artifact("batch_predictions", name)) / TABLE_FILE
    return pd.read_parquet(path)


def model_loads(instance: DagsterInstance, run_id: str) -> int:
    return sum(
        "Loading model fused_model" in (entry.user_message or "")
        for entry in instance.all_logs(run_id)
    )


def test_one_batch_run_predicts_every_product(trained):
    defs, store, instance, _ = trained
    result = defs.resolve_job_def(BATCH_JOB).execute_in_process(
        partition_key="b1", instance=instance
    )
    assert result.success

    predictions = read_predictions(store, "b1")
    assert PREDICTION_COLUMNS <= set(predictions.columns)
    assert len(predictions) == 6
    assert predictions["model_version"].eq(store.current_version("fused_model")).all()
    # The generated batch has one product whose photo is missing: it is still predicted, from
    # its text, and says why.
    missing = predictions[predictions["image_problem"] != ""]
    assert len(missing) == 1
    assert missing["source"].iloc[0] == "text only"
    assert predictions["top3_prdtypecodes"].map(len).eq(3).all()


def test_one_run_over_many_batches_loads_the_model_once(trained):
    defs, store, instance, _ = trained
    for name in BATCHES:
        defs.resolve_job_def(BATCH_JOB).execute_in_process(partition_key=name, instance=instance)
    before = {
        name: store.current_version(partition_artifact("batch_predictions", name))
        for name in BATCHES
    }

    result = defs.resolve_job_def(BATCH_JOB).execute_in_process(
        instance=instance,
        asset_selection=[AssetKey("batch_predictions")],
        tags={ASSET_PARTITION_RANGE_START_TAG: "b1", ASSET_PARTITION_RANGE_END_TAG: "b3"},
    )
    assert result.success
    assert model_loads(instance, result.run_id) == 1
    materialized = {
        event.partition
        for event in result.all_events
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION
        and event.asset_key.to_user_string() == "batch_predictions"
    }
    assert materialized == set(BATCHES)
    for name in BATCHES:
        assert store.current_version(partition_artifact("batch_predictions", name)) != before[name]
        assert len(read_predictions(store, name)) == 6


def test_a_labelled_batch_extends_the_training_catalogue(trained):
    defs, store, instance, root = trained
    labelled = root / "landing" / "l1"
    generate_sample(root / "labelled", rows_per_class=1, unlabelled_rows=0, image_px=64, seed=9)
    shutil.copytree(root / "labelled", labelled, ignore=shutil.ignore_patterns("unlabelled"))
    (labelled / READY_MARKER).touch()

    result = defs.resolve_job_def(FULL_PIPELINE_JOB).execute_in_process(
        run_config=TINY_RUN_CONFIG, instance=instance
    )
    assert result.success
    catalogue = pd.read_parquet(store.current_path("raw_catalogue") / TABLE_FILE)
    assert (catalogue["source"] == "l1").sum() == 27
    assert catalogue.index.is_unique
