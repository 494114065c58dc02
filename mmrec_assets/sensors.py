"""The sensor that turns batches landing in a folder into partitions and runs."""

import hashlib
import os

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from mmrec_assets.ml.batches import READY_MARKER, BatchCursor, scan_landing
from mmrec_assets.partitions import batch_partitions
from mmrec_assets.resources import CatalogueSource, LandingFolder

BATCH_JOB = "mmrec_batch"
FULL_PIPELINE_JOB = "mmrec_full_pipeline"
PARTITIONS_PER_REQUEST = 100
# How often the daemon evaluates the sensor; from the environment so tests can tick faster.
SENSOR_INTERVAL_SECONDS = int(os.environ.get("MMREC_SENSOR_INTERVAL_SECONDS") or 15)


@sensor(
    job_name=BATCH_JOB,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Registers each complete batch in the landing folder as a partition and runs it; "
    "retrains the models when a batch brings labels.",
)
def new_batch_sensor(
    context: SensorEvaluationContext, landing: LandingFolder, catalogue: CatalogueSource
):
    """Request one batch run per new complete batch, and a retraining run for labelled ones.

    The cursor remembers every batch already requested, so a batch is requested once. Each run
    key is ``batch:<name>``, so even after a cursor reset Dagster launches no second run for it.
    """
    cursor = BatchCursor.decode(context.cursor)
    scan = scan_landing(landing.root(), catalogue.y_file)

    newly_refused = {ascii(name): problem for name, problem in scan.refused.items()}
    for name in cursor.reported & newly_refused.keys():
        del newly_refused[name]
    for name, problem in newly_refused.items():
        context.log.warning(f"Batch folder {name} refused: {problem}")
    cursor.reported.update(newly_refused)

    new = [name for name in scan.complete if name not in cursor.requested]
    taken = new[: landing.max_batches_per_tick]
    if not taken:
        waiting = f"; {len(scan.incomplete)} without {READY_MARKER} yet" if scan.incomplete else ""
        skip = f"No new complete batch in {landing.root()}{waiting}"
        if newly_refused:
            return SensorResult(skip_reason=SkipReason(skip), cursor=cursor.encode())
        return SkipReason(skip)

    run_requests = [
        RunRequest(run_key=f"batch:{name}", partition_key=name, job_name=BATCH_JOB)
        for name in taken
    ]
    # A labelled batch that is already a partition was seen before a cursor reset: its labels
    # are in the training set already, so it does not call for another retraining.
    labelled = sorted(
        name
        for name in set(taken) & scan.labelled
        if not context.instance.has_dynamic_partition(batch_partitions.name, name)
    )
    if labelled:
        digest = hashlib.sha256("\n".join(labelled).encode()).hexdigest()[:16]
        run_requests.append(
            RunRequest(
                run_key=f"retrain:{digest}",
                job_name=FULL_PIPELINE_JOB,
                tags={"mmrec/labelled_batches": ",".join(labelled)[:200]},
            )
        )

    cursor.requested.update(taken)
    known = set(taken) & set(context.instance.get_dynamic_partitions(batch_partitions.name))
    context.log.info(
        f"{len(taken)} batch(es) requested"
        + (
            f" ({len(known)} already registered, whose runs Dagster skips by run key)"
            if known
            else ""
        )
        + (f", {len(new) - len(taken)} left for the next tick" if len(new) > len(taken) else "")
        + (f"; retraining for {len(labelled)} labelled batch(es)" if labelled else "")
    )
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[
            batch_partitions.build_add_request(taken[start : start + PARTITIONS_PER_REQUEST])
            for start in range(0, len(taken), PARTITIONS_PER_REQUEST)
        ],
        cursor=cursor.encode(),
    )
