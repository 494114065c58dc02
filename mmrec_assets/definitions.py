"""The mmrec code location: assets, checks, resources and jobs.

Settings come from the environment when the definitions load:

- ``MMREC_DATA_DIR``: catalogue folder in the challenge layout (empty: the built-in sample);
- ``MMREC_STORAGE_DIR``: folder for every artifact (default ``.mmrec_storage`` in the current
  folder).
"""

import os

from dagster import (
    AssetSelection,
    Definitions,
    define_asset_job,
    load_asset_checks_from_modules,
    load_assets_from_modules,
)

from mmrec_assets.assets import evaluation, inference, ingestion, preprocessing, training
from mmrec_assets.io_managers import KerasModelIOManager, ParquetIOManager
from mmrec_assets.resources import CatalogueSource, StorageFolder

DEFAULT_STORAGE_DIR = ".mmrec_storage"
FULL_PIPELINE_JOB = "mmrec_full_pipeline"
ASSET_MODULES = [ingestion, preprocessing, training, evaluation, inference]


def build_definitions(storage: StorageFolder, catalogue: CatalogueSource) -> Definitions:
    """The code location's definitions for one storage folder and one catalogue."""
    full_pipeline_job = define_asset_job(
        FULL_PIPELINE_JOB,
        selection=AssetSelection.all(),
        description="Read the catalogue, preprocess, train both branches, fuse, evaluate, predict.",
    )
    return Definitions(
        assets=load_assets_from_modules(ASSET_MODULES),
        asset_checks=load_asset_checks_from_modules(ASSET_MODULES),
        jobs=[full_pipeline_job],
        resources={
            "storage": storage,
            "catalogue": catalogue,
            "table_io_manager": ParquetIOManager(storage=storage),
            "model_io_manager": KerasModelIOManager(storage=storage),
        },
    )


storage = StorageFolder(path=os.environ.get("MMREC_STORAGE_DIR") or DEFAULT_STORAGE_DIR)
defs = build_definitions(storage, CatalogueSource(data_dir=os.environ.get("MMREC_DATA_DIR", "")))
