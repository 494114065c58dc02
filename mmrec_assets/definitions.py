"""The mmrec code location: assets, checks, resources, jobs and the batch sensor.

Settings come from the environment when the definitions load:

- ``MMREC_DATA_DIR``: catalogue folder in the challenge layout (empty: the built-in sample);
- ``MMREC_STORAGE_DIR``: folder for every artifact (default ``.mmrec_storage`` in the current
  folder);
- ``MMREC_LANDING_DIR``: folder where new batches land (default ``landing`` in the storage
  folder).
"""

import os
from pathlib import Path

from dagster import (
    AssetSelection,
    Definitions,
    define_asset_job,
    load_asset_checks_from_modules,
    load_assets_from_modules,
)

from mmrec_assets.assets import (
    batches,
    evaluation,
    inference,
    ingestion,
    preprocessing,
    training,
)
from mmrec_assets.io_managers import KerasModelIOManager, ParquetIOManager
from mmrec_assets.partitions import batch_partitions
from mmrec_assets.resources import CatalogueSource, LandingFolder, StorageFolder
from mmrec_assets.sensors import BATCH_JOB, FULL_PIPELINE_JOB, new_batch_sensor

DEFAULT_STORAGE_DIR = ".mmrec_storage"
DEFAULT_LANDING_SUBDIR = "landing"
ASSET_MODULES = [ingestion, preprocessing, training, evaluation, inference, batches]


def build_definitions(
    storage: StorageFolder, catalogue: CatalogueSource, landing: LandingFolder | None = None
) -> Definitions:
    """The code location's definitions for one storage folder, catalogue and landing folder."""
    if landing is None:
        landing = LandingFolder(path=str(Path(storage.path) / DEFAULT_LANDING_SUBDIR))
    full_pipeline_job = define_asset_job(
        FULL_PIPELINE_JOB,
        selection=AssetSelection.all() - AssetSelection.groups(batches.GROUP),
        description="Read the catalogue and labelled batches, preprocess, train both branches, "
        "fuse, evaluate, predict the unlabelled products.",
    )
    batch_job = define_asset_job(
        BATCH_JOB,
        selection=AssetSelection.groups(batches.GROUP),
        partitions_def=batch_partitions,
        description="Read, preprocess and predict one landed batch.",
    )
    return Definitions(
        assets=load_assets_from_modules(ASSET_MODULES),
        asset_checks=load_asset_checks_from_modules(ASSET_MODULES),
        jobs=[full_pipeline_job, batch_job],
        sensors=[new_batch_sensor],
        resources={
            "storage": storage,
            "catalogue": catalogue,
            "landing": landing,
            "table_io_manager": ParquetIOManager(storage=storage),
            "model_io_manager": KerasModelIOManager(storage=storage),
        },
    )


def _catalogue_from_environment() -> CatalogueSource:
    """The catalogue settings, with the challenge's own file names settable too."""
    names = {
        field: os.environ[variable]
        for field, variable in (
            ("x_file", "MMREC_X_FILE"),
            ("y_file", "MMREC_Y_FILE"),
            ("images_dir", "MMREC_IMAGES_DIR"),
            ("unlabelled_dir", "MMREC_UNLABELLED_DIR"),
        )
        if os.environ.get(variable)
    }
    return CatalogueSource(data_dir=os.environ.get("MMREC_DATA_DIR", ""), **names)


def _landing_from_environment() -> LandingFolder | None:
    path = os.environ.get("MMREC_LANDING_DIR")
    return LandingFolder(path=path) if path else None


storage = StorageFolder(path=os.environ.get("MMREC_STORAGE_DIR") or DEFAULT_STORAGE_DIR)
defs = build_definitions(
    storage,
    _catalogue_from_environment(),
    _landing_from_environment(),
)
