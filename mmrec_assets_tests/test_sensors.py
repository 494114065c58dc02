"""The batch sensor against a test instance: what it registers, requests and remembers."""

import pytest
from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context

from mmrec_assets.ml.batches import READY_MARKER, BatchCursor, name_problem, scan_landing
from mmrec_assets.partitions import batch_partitions
from mmrec_assets.resources import CatalogueSource, LandingFolder
from mmrec_assets.sensors import BATCH_JOB, FULL_PIPELINE_JOB, new_batch_sensor

PARTITIONS = batch_partitions.name


def make_batch(landing, name, complete=True, labelled=False):
    folder = landing / name
    (folder / "images").mkdir(parents=True)
    (folder / "X.csv").write_text(",designation,description,productid,imageid\n0,a,,1,2\n")
    if labelled:
        (folder / "Y.csv").write_text(",prdtypecode\n0,10\n")
    if complete:
        (folder / READY_MARKER).touch()
    return folder


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def tick(instance, landing, cursor=None, per_tick=200):
    """Evaluate the sensor once and apply its partition requests, as the daemon would."""
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "landing": LandingFolder(path=str(landing), max_batches_per_tick=per_tick),
            "catalogue": CatalogueSource(),
        },
    )
    result = new_batch_sensor(context)
    if isinstance(result, SensorResult):
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(PARTITIONS, list(request.partition_keys))
    return result


def batch_requests(result):
    return [r for r in result.run_requests if r.job_name == BATCH_JOB]


def test_new_complete_batches_become_partitions_and_runs(instance, tmp_path):
    make_batch(tmp_path, "b2")
    make_batch(tmp_path, "b1")
    result = tick(instance, tmp_path)

    assert isinstance(result, SensorResult)
    assert [r.partition_key for r in batch_requests(result)] == ["b1", "b2"]
    assert [r.run_key for r in batch_requests(result)] == ["batch:b1", "batch:b2"]
    assert instance.get_dynamic_partitions(PARTITIONS) == ["b1", "b2"]
    assert BatchCursor.decode(result.cursor).requested == {"b1", "b2"}
    assert not [r for r in result.run_requests if r.job_name == FULL_PIPELINE_JOB]


def test_no_new_batch_skips_and_keeps_the_cursor(instance, tmp_path):
    make_batch(tmp_path, "b1")
    first = tick(instance, tmp_path)
    second = tick(instance, tmp_path, cursor=first.cursor)
    assert isinstance(second, SkipReason)
    assert "No new complete batch" in second.skip_message

    make_batch(tmp_path, "b3")
    third = tick(instance, tmp_path, cursor=first.cursor)
    assert [r.partition_key for r in batch_requests(third)] == ["b3"]


def test_empty_or_missing_landing_folder_skips(instance, tmp_path):
    assert isinstance(tick(instance, tmp_path / "absent"), SkipReason)
    assert isinstance(tick(instance, tmp_path), SkipReason)


def test_incomplete_batch_waits_for_its_marker(instance, tmp_path):
    folder = make_batch(tmp_path, "copying", complete=False)
    waiting = tick(instance, tmp_path)
    assert isinstance(waiting, SkipReason)
    assert "1 without _READY" in waiting.skip_message
    assert instance.get_dynamic_partitions(PARTITIONS) == []

    (folder / READY_MARKER).touch()
    result = tick(instance, tmp_path)
    assert [r.partition_key for r in batch_requests(result)] == ["copying"]


@pytest.mark.parametrize(
    "name",
    ["with space", "..", "a..b", "-lead", "é-accent", "x" * 65, "semi;colon", ".hidden-ok"],
)
def test_unsafe_batch_names_are_refused_without_crashing(instance, tmp_path, name):
    make_batch(tmp_path, name)
    make_batch(tmp_path, "good")
    result = tick(instance, tmp_path)
    assert [r.partition_key for r in batch_requests(result)] == ["good"]
    assert instance.get_dynamic_partitions(PARTITIONS) == ["good"]


def test_name_rules():
    assert name_problem("batch-2026_12.01") is None
    assert "ASCII" in name_problem("bébé")
    assert "'..'" in name_problem("a..b")
    assert "longer" in name_problem("b" * 65)
    assert name_problem("a b") is not None
    assert name_problem("a/b") is not None


def test_refused_names_are_reported_once(instance, tmp_path):
    make_batch(tmp_path, "bad name")
    first = tick(instance, tmp_path)
    # Nothing to run, but the refusal is remembered so the next tick does not warn again.
    assert isinstance(first, SensorResult) and first.skip_reason is not None
    assert BatchCursor.decode(first.cursor).reported == {ascii("bad name")}
    second = tick(instance, tmp_path, cursor=first.cursor)
    assert isinstance(second, SkipReason)


def test_cursor_reset_requests_again_with_the_same_run_keys(instance, tmp_path):
    make_batch(tmp_path, "b1", labelled=True)
    first = tick(instance, tmp_path)
    again = tick(instance, tmp_path, cursor=None)
    # Same run keys: Dagster launches no second run for a run key it has seen.
    assert [r.run_key for r in batch_requests(again)] == [r.run_key for r in batch_requests(first)]
    # The labelled batch is already a partition, so the reset does not retrain again.
    assert [r.job_name for r in first.run_requests].count(FULL_PIPELINE_JOB) == 1
    assert [r.job_name for r in again.run_requests].count(FULL_PIPELINE_JOB) == 0
    assert instance.get_dynamic_partitions(PARTITIONS) == ["b1"]


def test_labelled_batch_requests_one_retraining(instance, tmp_path):
    make_batch(tmp_path, "l1", labelled=True)
    make_batch(tmp_path, "l2", labelled=True)
    make_batch(tmp_path, "u1")
    result = tick(instance, tmp_path)
    retrain = [r for r in result.run_requests if r.job_name == FULL_PIPELINE_JOB]
    assert len(retrain) == 1
    assert retrain[0].tags["mmrec/labelled_batches"] == "l1,l2"
    assert len(batch_requests(result)) == 3
    assert scan_landing(tmp_path).labelled == {"l1", "l2"}


def test_a_thousand_batches_are_taken_in_bounded_ticks_without_loss(instance, tmp_path):
    names = [f"b{i:04d}" for i in range(1000)]
    for name in names:
        make_batch(tmp_path, name)

    seen, cursor, ticks = [], None, 0
    while True:
        result = tick(instance, tmp_path, cursor=cursor, per_tick=300)
        if isinstance(result, SkipReason):
            break
        ticks += 1
        requests = batch_requests(result)
        assert len(requests) <= 300
        assert all(len(r.partition_keys) <= 100 for r in result.dynamic_partitions_requests)
        seen.extend(r.partition_key for r in requests)
        cursor = result.cursor

    assert ticks == 4
    assert sorted(seen) == names and len(set(seen)) == 1000
    assert sorted(instance.get_dynamic_partitions(PARTITIONS)) == names
    assert len(cursor) < 5000


def test_cursor_round_trip_and_rejects_garbage():
    cursor = BatchCursor(requested={"a", "b"}, reported={ascii("x y")})
    assert BatchCursor.decode(cursor.encode()) == cursor
    assert BatchCursor.decode("") == BatchCursor()
    with pytest.raises(ValueError, match="Unrecognised"):
        BatchCursor.decode("something else")
