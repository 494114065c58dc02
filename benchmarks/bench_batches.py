"""Measure landed batches end to end: prediction per product, the sensor's tick, and a backfill.

Everything runs in this process on a temporary folder, after the models are trained once on the
built-in sample with the test suite's tiny settings (photos at 64 pixels, VGG16 randomly
initialised, few epochs). The models are poor, which changes no timing.

1. Prediction. Catalogues of generated products with 500x500 JPEGs are predicted by a
   ``ProductClassifier`` over the stored fused model. The model is loaded once and predicts the
   smallest catalogue and half of it first, which traces its graph for any batch shape; then
   each size is timed once. A straight line through the times splits them into a fixed cost
   per call and a cost per product. Photo decoding alone is timed too: during a prediction it
   runs in threads beside the network.
2. Sensor. A landing folder of complete one-row batches is shown to the batch sensor as the
   daemon would: each tick is evaluated with its run requests resolved, its new partitions are
   added to the instance and its cursor is passed on, until every batch is taken. Then the tick
   that finds nothing new is timed, as is the folder scan inside it.
3. Backfill. Small batches are landed, registered and preprocessed one run each; then
   ``batch_predictions`` is materialized for all of them in one run (its single-run backfill
   policy) and in one run per batch. Loads of the fused model are counted both by wrapping the
   loader and from the runs' logs.

The figures go to standard output; Dagster's and TensorFlow's logs to standard error.

Usage:
    .venv/bin/python benchmarks/bench_batches.py [--sizes 10,100,1000] [--sensor-batches N]
        [--backfill-batches N] [--backfill-products N]
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np

# TensorFlow's start-up chatter on stderr says nothing about the figures printed here.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Run as a script from a checkout: the package and its tests import from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    build_sensor_context,
    instance_for_test,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

import mmrec_assets.ml.bundle as bundle_module
from mmrec_assets.definitions import FULL_PIPELINE_JOB, build_definitions
from mmrec_assets.ml.artifacts import ArtifactStore
from mmrec_assets.ml.batches import READY_MARKER, BatchCursor, scan_landing
from mmrec_assets.ml.bundle import ModelBundle, load_bundle
from mmrec_assets.ml.catalogue import read_catalogue
from mmrec_assets.ml.images import iter_image_chunks
from mmrec_assets.ml.predict import ProductClassifier
from mmrec_assets.ml.sample import generate_sample
from mmrec_assets.partitions import batch_partitions
from mmrec_assets.resources import CatalogueSource, LandingFolder, StorageFolder
from mmrec_assets.sensors import BATCH_JOB, new_batch_sensor
from mmrec_assets_tests.conftest import TINY_RUN_CONFIG

FUSED_MODEL = "fused_model"
TRAINING_IMAGE_SIZE = 64
SAMPLE_ROWS_PER_CLASS = 3
SOURCE_PX = 500
BATCH_SOURCE_PX = 64
PREDICT_CHUNK_SIZE = 256
IDLE_TICKS = 20
PREPROCESSING_ASSETS = [
    AssetKey("batch_products"),
    AssetKey("batch_text"),
    AssetKey("batch_images"),
]
PREDICTIONS_ASSET = AssetKey("batch_predictions")
LOAD_MESSAGE = f"Loading model {FUSED_MODEL}"
# Runs print warnings and errors only; the event log still records every message.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
T = TypeVar("T")
ONE_ROW_X_CSV = ",designation,description,productid,imageid\n0,Livre de poche,,1,1\n"


def parse_args() -> argparse.Namespace:
    """Read the command line.

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10,100,1000",
        help="products per predicted catalogue, comma-separated (default: 10,100,1000)",
    )
    parser.add_argument(
        "--sensor-batches",
        type=int,
        default=1000,
        help="one-row batches in the sensor's landing folder (default: 1000)",
    )
    parser.add_argument(
        "--backfill-batches", type=int, default=20, help="batches backfilled (default: 20)"
    )
    parser.add_argument(
        "--backfill-products",
        type=int,
        default=10,
        help="products in each backfilled batch (default: 10)",
    )
    args = parser.parse_args()
    try:
        args.sizes = sorted({int(size) for size in args.sizes.split(",")})
    except ValueError:
        parser.error(f"--sizes must be whole numbers separated by commas, got {args.sizes!r}")
    if not args.sizes or args.sizes[0] < 1:
        parser.error("--sizes must all be at least 1")
    if args.sensor_batches < 1 or args.backfill_batches < 1 or args.backfill_products < 1:
        parser.error("--sensor-batches, --backfill-batches and --backfill-products must be >= 1")
    return args


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """Run ``action`` once.

    Returns:
        What it returned and the seconds it took.
    """
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def train_models(defs: Definitions, instance: DagsterInstance) -> float:
    """Materialize the full pipeline once with the tiny test settings and 64-pixel photos.

    Returns:
        The seconds the run took.

    Raises:
        RuntimeError: When the run fails.
    """
    run_config = copy.deepcopy(TINY_RUN_CONFIG)
    run_config["ops"]["image_features_and_pixels"]["config"]["image_size"] = TRAINING_IMAGE_SIZE
    run_config.update(QUIET_RUN_CONFIG)
    job = defs.resolve_job_def(FULL_PIPELINE_JOB)
    result, seconds = timed(
        lambda: job.execute_in_process(run_config=run_config, instance=instance)
    )
    if not result.success:
        raise RuntimeError("Training the models on the built-in sample failed")
    return seconds


def bench_prediction(store: ArtifactStore, sizes: list[int], work: Path) -> None:
    """Print the model load time and the prediction time of each catalogue size."""
    catalogues = {}
    started = time.perf_counter()
    for size in sizes:
        summary = generate_sample(
            work / f"products_{size}", rows_per_class=1, unlabelled_rows=size, image_px=SOURCE_PX
        )
        catalogues[size] = read_catalogue(summary.root / "unlabelled", labelled=False)
    print(
        f"generated {sum(sizes):,} products with {SOURCE_PX}x{SOURCE_PX} JPEGs "
        f"in {time.perf_counter() - started:.1f} s"
    )

    bundle, load_seconds = timed(lambda: load_bundle(store.current_path(FUSED_MODEL)))
    classifier = ProductClassifier(bundle)
    print(f"model load (once): {load_seconds:.2f} s")
    # The first call traces the network for its batch shape and the next call with another
    # shape traces it again for any shape; timed calls after these trace nothing.
    first = catalogues[sizes[0]]
    warm_ups = [first, first.head(len(first) // 2)] if len(first) >= 2 else [first]
    for products in warm_ups:
        _, trace_seconds = timed(lambda products=products: classifier.predict(products))
        print(f"warm-up predict call ({len(products)} products, traces): {trace_seconds:.2f} s")

    print(f"{'products':>9} {'predict s':>10} {'ms/product':>11} {'decoding alone s':>17}")
    seconds = []
    for size in sizes:
        products = catalogues[size]
        predictions, predict_seconds = timed(lambda products=products: classifier.predict(products))
        if len(predictions) != size:
            raise RuntimeError(f"{len(predictions)} predictions for {size} products")
        paths = products["image_path"].astype(str).tolist()
        _, decode_seconds = timed(
            lambda paths=paths: [
                chunk.start
                for chunk in iter_image_chunks(
                    paths, classifier.image_size, chunk_size=PREDICT_CHUNK_SIZE
                )
            ]
        )
        seconds.append(predict_seconds)
        print(
            f"{size:>9,} {predict_seconds:>10.2f} {1000 * predict_seconds / size:>11.1f} "
            f"{decode_seconds:>17.2f}"
        )

    if len(sizes) >= 2:
        per_product, fixed = np.polyfit(sizes, seconds, 1)
        print(
            f"straight-line fit: {fixed:.3f} s per call + {1000 * per_product:.1f} ms per product; "
            f"{sizes[-1] // sizes[0]}x the products took "
            f"{seconds[-1] / seconds[0]:.1f}x the time"
        )


def land_one_row_batches(landing: Path, count: int) -> list[str]:
    """Write ``count`` complete batches of one product each, without photos.

    Returns:
        The batch names, sorted.
    """
    names = [f"batch-{i:05d}" for i in range(count)]
    for name in names:
        folder = landing / name
        folder.mkdir(parents=True)
        (folder / "X.csv").write_text(ONE_ROW_X_CSV, encoding="utf-8")
        (folder / READY_MARKER).touch()
    return names


def bench_sensor(work: Path, batch_count: int) -> None:
    """Print the time of each sensor tick until every batch is taken, then of an idle tick."""
    landing_path = work / "sensor_landing"
    _, create_seconds = timed(lambda: land_one_row_batches(landing_path, batch_count))
    landing = LandingFolder(path=str(landing_path))
    catalogue = CatalogueSource()
    resources = {"landing": landing, "catalogue": catalogue}
    defs = build_definitions(StorageFolder(path=str(work / "sensor_storage")), catalogue, landing)
    print(
        f"landed {batch_count:,} one-row batches in {create_seconds:.1f} s; the sensor takes at "
        f"most {landing.max_batches_per_tick} per tick"
    )

    home = work / "sensor_dagster_home"
    home.mkdir()
    with instance_for_test(temp_dir=str(home)) as instance:

        def tick(cursor: str | None):
            # A reference to the instance is what gives the tick a partitions loader, so that
            # run requests are checked against the partitions as the daemon checks them.
            with build_sensor_context(
                instance=instance,
                instance_ref=instance.get_ref(),
                cursor=cursor,
                resources=resources,
                definitions=defs,
            ) as context:
                return new_batch_sensor.evaluate_tick(context)

        cursor = None
        total_tick = total_apply = 0.0
        taken = ticks = 0
        while True:
            data, tick_seconds = timed(lambda cursor=cursor: tick(cursor))
            if not data.run_requests:
                break
            ticks += 1
            started = time.perf_counter()
            for request in data.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(
                    request.partitions_def_name, list(request.partition_keys)
                )
            apply_seconds = time.perf_counter() - started
            if data.cursor is not None:
                cursor = data.cursor
            taken += len(data.run_requests)
            total_tick += tick_seconds
            total_apply += apply_seconds
            print(
                f"tick {ticks}: {len(data.run_requests)} run requests in {tick_seconds:.3f} s, "
                f"then {apply_seconds:.3f} s to add the partitions"
            )
        registered = len(instance.get_dynamic_partitions(batch_partitions.name))
        print(f"all {taken:,} batches taken in {ticks} ticks; {registered:,} partitions registered")
        print(f"total: {total_tick:.3f} s of ticks + {total_apply:.3f} s adding partitions")

        idle = []
        for _ in range(IDLE_TICKS):
            data, tick_seconds = timed(lambda cursor=cursor: tick(cursor))
            if data.run_requests:
                raise RuntimeError("An idle tick requested runs")
            idle.append(tick_seconds)
        scans = [timed(lambda: scan_landing(landing.root()))[1] for _ in range(IDLE_TICKS)]
        decodes = [timed(lambda: BatchCursor.decode(cursor))[1] for _ in range(IDLE_TICKS)]
        print(
            f"tick with 0 new batches, {batch_count:,} known: median "
            f"{statistics.median(idle):.3f} s over {IDLE_TICKS} ticks (min {min(idle):.3f}, "
            f"max {max(idle):.3f})"
        )
        print(
            f"of which the folder scan {statistics.median(scans):.3f} s and the cursor decoding "
            f"{statistics.median(decodes):.4f} s (medians)"
        )
    print(f"cursor for {batch_count:,} known batches: {len(cursor.encode('utf-8')):,} bytes")


def land_product_batches(landing: Path, work: Path, count: int, products: int) -> list[str]:
    """Land ``count`` complete batches of generated products with small photos.

    Returns:
        The batch names, sorted.
    """
    names = [f"batch-{i:03d}" for i in range(count)]
    for seed, name in enumerate(names):
        summary = generate_sample(
            work / "generated" / name,
            rows_per_class=1,
            unlabelled_rows=products,
            image_px=BATCH_SOURCE_PX,
            seed=seed,
            defects=False,
        )
        shutil.move(summary.root / "unlabelled", landing / name)
        (landing / name / READY_MARKER).touch()
    return names


@contextmanager
def counted_model_loads() -> Iterator[list[float]]:
    """Record the seconds of every model load made while the block runs.

    The IO manager imports ``load_bundle`` from its module each time it loads a model, so
    replacing the module's attribute sees every load.

    Yields:
        The list that receives one duration per load.
    """
    original = bundle_module.load_bundle
    durations: list[float] = []

    def timed_load(folder: Path) -> ModelBundle:
        started = time.perf_counter()
        try:
            return original(folder)
        finally:
            durations.append(time.perf_counter() - started)

    bundle_module.load_bundle = timed_load
    try:
        yield durations
    finally:
        bundle_module.load_bundle = original


def logged_loads(instance: DagsterInstance, run_ids: list[str]) -> int:
    """How many times the runs' logs say the fused model was loaded."""
    return sum(
        1
        for run_id in run_ids
        for entry in instance.all_logs(run_id)
        if entry.user_message.startswith(LOAD_MESSAGE)
    )


def bench_backfill(
    defs: Definitions,
    instance: DagsterInstance,
    landing: Path,
    work: Path,
    batch_count: int,
    products: int,
) -> None:
    """Print the time of predicting many batches in one run against one run per batch."""
    landing.mkdir(parents=True, exist_ok=True)
    names, land_seconds = timed(lambda: land_product_batches(landing, work, batch_count, products))
    instance.add_dynamic_partitions(batch_partitions.name, names)
    job = defs.resolve_job_def(BATCH_JOB)
    print(
        f"landed and registered {batch_count} batches of {products} products "
        f"in {land_seconds:.1f} s"
    )

    started = time.perf_counter()
    for name in names:
        job.execute_in_process(
            run_config=QUIET_RUN_CONFIG,
            instance=instance,
            partition_key=name,
            asset_selection=PREPROCESSING_ASSETS,
        )
    print(
        f"preprocessed them, one run of {len(PREPROCESSING_ASSETS)} assets per batch: "
        f"{time.perf_counter() - started:.1f} s"
    )

    tags = {ASSET_PARTITION_RANGE_START_TAG: names[0], ASSET_PARTITION_RANGE_END_TAG: names[-1]}
    with counted_model_loads() as single_loads:
        result, single_seconds = timed(
            lambda: job.execute_in_process(
                run_config=QUIET_RUN_CONFIG,
                instance=instance,
                asset_selection=[PREDICTIONS_ASSET],
                tags=tags,
            )
        )
    materialized = {
        event.partition for event in result.get_asset_materialization_events() if event.partition
    }
    if materialized != set(names):
        raise RuntimeError(
            f"The single run materialized {len(materialized)} of {len(names)} partitions"
        )
    single_logged = logged_loads(instance, [result.run_id])

    run_ids = []
    with counted_model_loads() as separate_loads:
        started = time.perf_counter()
        for name in names:
            run = job.execute_in_process(
                run_config=QUIET_RUN_CONFIG,
                instance=instance,
                partition_key=name,
                asset_selection=[PREDICTIONS_ASSET],
            )
            run_ids.append(run.run_id)
        separate_seconds = time.perf_counter() - started
    separate_logged = logged_loads(instance, run_ids)

    print(
        f"(a) one run over {batch_count} partitions ({names[0]}..{names[-1]}): "
        f"{single_seconds:.2f} s"
    )
    print(
        f"    fused model loaded {len(single_loads)} time(s) ({single_logged} logged), "
        f"{sum(single_loads):.2f} s loading"
    )
    print(
        f"(b) {batch_count} runs, one per partition: {separate_seconds:.2f} s "
        f"({separate_seconds / batch_count:.2f} s per run)"
    )
    print(
        f"    fused model loaded {len(separate_loads)} time(s) ({separate_logged} logged), "
        f"{sum(separate_loads):.2f} s loading"
    )
    print(f"(b) / (a): {separate_seconds / single_seconds:.1f}x")


def main() -> None:
    """Train once, then print the three sets of figures."""
    args = parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory(prefix="bench_batches_") as tmp:
        work = Path(tmp)
        storage = StorageFolder(path=str(work / "storage"))
        landing = work / "landing"
        defs = build_definitions(
            storage,
            CatalogueSource(sample_rows_per_class=SAMPLE_ROWS_PER_CLASS),
            LandingFolder(path=str(landing)),
        )
        home = work / "dagster_home"
        home.mkdir()
        with instance_for_test(temp_dir=str(home)) as instance:
            print("== 1. Prediction time per batch ==")
            seconds = train_models(defs, instance)
            print(
                f"trained the models on the built-in sample ({SAMPLE_ROWS_PER_CLASS} products per "
                f"class, {TRAINING_IMAGE_SIZE} px photos) in {seconds:.1f} s"
            )
            bench_prediction(storage.store(), args.sizes, work)

            print("== 2. Sensor tick time ==")
            bench_sensor(work, args.sensor_batches)

            print("== 3. Backfill of batch_predictions ==")
            bench_backfill(
                defs, instance, landing, work, args.backfill_batches, args.backfill_products
            )

    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
