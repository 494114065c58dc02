"""The code location loads fast and shows a complete, described, grouped graph."""

import subprocess
import sys

from mmrec_assets.definitions import FULL_PIPELINE_JOB, defs
from mmrec_assets.sensors import BATCH_JOB

EXPECTED_ASSETS = {
    "raw_catalogue": "ingestion",
    "split_sets": "ingestion",
    "preprocessed_text": "preprocessing",
    "preprocessed_images": "preprocessing",
    "image_features": "preprocessing",
    "text_lstm_model": "training",
    "image_vgg16_model": "training",
    "fused_model": "training",
    "model_evaluation": "evaluation",
    "product_predictions": "inference",
    "batch_products": "batches",
    "batch_text": "batches",
    "batch_images": "batches",
    "batch_predictions": "batches",
}


def test_importing_the_definitions_does_not_import_tensorflow():
    code = (
        "import sys, mmrec_assets.definitions; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_asset_is_grouped_and_described():
    graph = defs.resolve_asset_graph()
    found = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        found[key.to_user_string()] = node.group_name
        assert node.description and node.description.strip(), key
        assert len(node.description.strip().splitlines()) == 1, key
    assert {k: v for k, v in found.items() if k in EXPECTED_ASSETS} == EXPECTED_ASSETS


def test_the_jobs_split_the_graph_into_unpartitioned_and_per_batch_assets():
    def selected(job_name):
        job = defs.resolve_job_def(job_name)
        return {key.to_user_string() for key in job.asset_layer.selected_asset_keys}

    per_batch = {name for name, group in EXPECTED_ASSETS.items() if group == "batches"}
    assert selected(FULL_PIPELINE_JOB) == set(EXPECTED_ASSETS) - per_batch
    assert selected(BATCH_JOB) == per_batch


def test_asset_checks_are_defined():
    graph = defs.resolve_asset_graph()
    names = {key.name for key in graph.asset_check_keys}
    assert {
        "split_sets_cover_catalogue_once",
        "few_rejected_photos",
        "uses_pretrained_weights",
        "not_worse_than_better_branch",
    } <= names
