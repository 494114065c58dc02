"""IO managers writing tables as Parquet and models as ``.keras`` bundles, atomically.

Both keep each asset under ``<storage>/<asset key>/`` as versions published through a ``CURRENT``
pointer (see :mod:`mmrec_assets.ml.artifacts`), so a crash mid-write never leaves a half-written
file where the previous version was.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext

from mmrec_assets.resources import StorageFolder

TABLE_FILE = "table.parquet"


def partition_artifact(asset: str, partition_key: str) -> str:
    """Storage name of one partition of a partitioned asset."""
    return f"{asset}/partitions/{partition_key}"


def artifact_name(context: OutputContext | InputContext) -> str:
    """Storage name of an unpartitioned asset."""
    return "/".join(context.asset_key.path)


def folder_size(folder: Path) -> int:
    """Bytes of all files under a folder."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


class ParquetIOManager(ConfigurableIOManager):
    """Stores pandas DataFrames as Parquet files under the storage folder.

    A partitioned asset's value is a dict from partition key to table, in and out, so that one
    run can handle many partitions (single-run backfills); each partition is its own file.
    """

    storage: StorageFolder

    def handle_output(self, context: OutputContext, value) -> None:
        store = self.storage.store()
        name = artifact_name(context)
        if not context.has_asset_partitions:
            path = self._write(store, name, value, context.run_id)
            context.add_output_metadata(
                {
                    "path": MetadataValue.path(str(path)),
                    "file size (bytes)": path.stat().st_size,
                    "dagster/row_count": len(value),
                }
            )
            return

        expected = set(context.asset_partition_keys)
        if not isinstance(value, dict) or set(value) != expected:
            raise TypeError(
                f"{name} is partitioned: return a dict with one table for each of the run's "
                f"partitions {sorted(expected)}"
            )
        for key, table in value.items():
            self._write(store, partition_artifact(name, key), table, context.run_id)
        context.add_output_metadata(
            {"dagster/row_count": sum(len(table) for table in value.values())}
        )

    def load_input(self, context: InputContext):
        store = self.storage.store()
        name = artifact_name(context)
        if not context.has_asset_partitions:
            return pd.read_parquet(store.current_path(name) / TABLE_FILE)
        return {
            key: pd.read_parquet(store.current_path(partition_artifact(name, key)) / TABLE_FILE)
            for key in context.asset_partition_keys
        }

    @staticmethod
    def _write(store, name: str, table: pd.DataFrame, run_id: str) -> Path:
        with store.write(name, tag=run_id) as folder:
            table.to_parquet(folder / TABLE_FILE)
        return store.current_path(name) / TABLE_FILE


class KerasModelIOManager(ConfigurableIOManager):
    """Stores :class:`~mmrec_assets.ml.bundle.ModelBundle` values as ``.keras`` + JSON folders.

    Keras is imported only when a model is written or read.
    """

    storage: StorageFolder

    def handle_output(self, context: OutputContext, bundle) -> None:
        from mmrec_assets.ml.bundle import save_bundle

        store = self.storage.store()
        name = artifact_name(context)
        with store.write(name, tag=context.run_id) as folder:
            save_bundle(bundle, folder)
        version = store.current_version(name)
        path = store.version_path(name, version)
        context.add_output_metadata(
            {
                "path": MetadataValue.path(str(path)),
                "model version": version,
                "size (MB)": round(folder_size(path) / 1e6, 1),
            }
        )

    def load_input(self, context: InputContext):
        from mmrec_assets.ml.bundle import load_bundle

        store = self.storage.store()
        name = artifact_name(context)
        version = store.current_version(name)
        context.log.info(f"Loading model {name}, version {version}")
        bundle = load_bundle(store.version_path(name, version))
        bundle.info["version"] = version
        return bundle
