"""The whole asset graph, materialized on a tiny built-in sample in a temporary DAGSTER_HOME."""

import pandas as pd
from dagster import AssetKey, instance_for_test

from mmrec_assets.definitions import FULL_PIPELINE_JOB
from mmrec_assets.ml.sample import PRDTYPECODES
from mmrec_assets_tests.conftest import TINY_RUN_CONFIG
from mmrec_assets_tests.test_definitions import EXPECTED_ASSETS


def test_the_full_pipeline_materializes_every_asset(tiny_definitions, tmp_path):
    defs, storage = tiny_definitions
    (tmp_path / "dagster_home").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        result = defs.resolve_job_def(FULL_PIPELINE_JOB).execute_in_process(
            run_config=TINY_RUN_CONFIG, instance=instance
        )
        assert result.success
        for name, group in EXPECTED_ASSETS.items():
            event = instance.get_latest_materialization_event(AssetKey(name))
            # Per-batch assets run per landed batch, not in the full pipeline.
            assert (event is None) == (group == "batches"), name

        checks = {
            evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()
        }
    assert checks["split_sets_cover_catalogue_once"].passed
    assert checks["not_worse_than_better_branch"].passed
    # Random VGG16 weights must show as a failing warning.
    assert not checks["uses_pretrained_weights"].passed
    assert checks["uses_pretrained_weights"].severity.value == "WARN"
    # The built-in sample's two broken photos out of 81 stay under the 5% the check allows.
    rejected = checks["few_rejected_photos"]
    assert rejected.passed
    assert rejected.metadata["rejected share"].value == round(2 / 81, 4)

    materialized = {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert materialized["preprocessed_images"]["rejected photos"].value == 2
    assert (
        materialized["image_vgg16_model"]["VGG16 conv base calls in this step (photos)"].value == 0
    )
    assert materialized["image_features"]["conv base calls (photos through VGG16)"].value == 79
    scores = materialized["model_evaluation"]
    for name in ("text", "image", "fused"):
        assert 0.0 <= scores[f"{name} test weighted F1"].value <= 1.0
    assert "data:image/png;base64," in scores["confusion matrix (fused)"].value

    store = storage.store()
    predictions = pd.read_parquet(store.current_path("product_predictions") / "table.parquet")
    assert len(predictions) > 0
    assert set(predictions["predicted_prdtypecode"]) <= set(PRDTYPECODES)
    assert predictions["probability"].between(0, 1).all()
    assert "text only" in set(predictions["source"])
