"""``mmrec run``: materialize the whole asset graph in this process and print the results."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mmrec`` command."""
    parser = argparse.ArgumentParser(prog="mmrec", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="Materialize every asset, then print the test scores.")
    run.add_argument(
        "--data-dir", help="Catalogue folder (default: $MMREC_DATA_DIR, else the built-in sample)."
    )
    run.add_argument(
        "--storage-dir", help="Artifact folder (default: $MMREC_STORAGE_DIR, else .mmrec_storage)."
    )
    args = parser.parse_args(argv)

    # The definitions read these when they are imported, so set them first.
    if args.data_dir is not None:
        os.environ["MMREC_DATA_DIR"] = args.data_dir
    if args.storage_dir is not None:
        os.environ["MMREC_STORAGE_DIR"] = args.storage_dir
    return run_full_pipeline()


def run_full_pipeline() -> int:
    """Run the full pipeline job in process; return a shell exit status."""
    from dagster import DagsterInstance

    from mmrec_assets.definitions import FULL_PIPELINE_JOB, defs, storage

    if os.environ.get("DAGSTER_HOME"):
        instance = DagsterInstance.get()
        where = f"run recorded in DAGSTER_HOME={os.environ['DAGSTER_HOME']}"
    else:
        instance = DagsterInstance.ephemeral()
        where = "run not recorded (set DAGSTER_HOME to see it in the UI)"

    result = defs.get_job_def(FULL_PIPELINE_JOB).execute_in_process(
        instance=instance, raise_on_error=False
    )
    if not result.success:
        print(f"\nmmrec: the run failed ({where}); see the log above.", file=sys.stderr)
        return 1

    metadata = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        metadata[materialization.asset_key.to_user_string()] = materialization.metadata

    store = storage.store()
    scores = metadata["model_evaluation"]
    print("\nTest set scores")
    for name in ("text", "image", "fused"):
        accuracy = scores[f"{name} test accuracy"].value
        f1 = scores[f"{name} test weighted F1"].value
        print(f"  {name:<6} accuracy {accuracy:.3f}   weighted F1 {f1:.3f}")
    print(f"\nPredictions: {store.current_path('product_predictions') / 'table.parquet'}")
    print(f"Confusion matrix: {scores['confusion matrix file'].value}")
    print(f"Artifacts: {store.root} ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
