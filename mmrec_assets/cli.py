"""The ``mmrec`` command.

- ``mmrec run``: materialize the whole asset graph in this process and print the test scores.
- ``mmrec backfill-predictions``: ask a running Dagster webserver to refresh the predictions of
  every batch with the current fused model, as one backfill (the daemon runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

BACKFILL_MUTATION = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""


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
    backfill = commands.add_parser(
        "backfill-predictions",
        help="Launch one backfill of batch_predictions over every batch (needs the webserver "
        "and the daemon running).",
    )
    backfill.add_argument(
        "--url", default="http://127.0.0.1:3000", help="Dagster webserver address."
    )
    args = parser.parse_args(argv)

    if args.command == "backfill-predictions":
        return launch_predictions_backfill(args.url)

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

    result = defs.resolve_job_def(FULL_PIPELINE_JOB).execute_in_process(
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


def launch_predictions_backfill(url: str) -> int:
    """Launch, through the webserver's GraphQL API, a backfill of every batch's predictions."""
    params = {
        "assetSelection": [{"path": ["batch_predictions"]}],
        "allPartitions": True,
        "title": "Refresh batch predictions",
    }
    body = json.dumps({"query": BACKFILL_MUTATION, "variables": {"params": params}}).encode()
    request = urllib.request.Request(
        f"{url.rstrip('/')}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
    except urllib.error.URLError as error:
        print(f"mmrec: cannot reach the Dagster webserver at {url}: {error}", file=sys.stderr)
        return 1

    result = (answer.get("data") or {}).get("launchPartitionBackfill") or {}
    if result.get("__typename") != "LaunchBackfillSuccess":
        detail = result.get("message") or answer.get("errors") or answer
        print(f"mmrec: the backfill was not launched: {detail}", file=sys.stderr)
        return 1
    backfill_id = result["backfillId"]
    print(f"Backfill {backfill_id} launched: {url.rstrip('/')}/runs/b/{backfill_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
