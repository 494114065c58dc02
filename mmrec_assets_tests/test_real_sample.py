"""The project runs unchanged on real challenge rows when the data setting points at them."""

import pandas as pd
import pytest
from dagster import instance_for_test

from mmrec_assets.definitions import FULL_PIPELINE_JOB, build_definitions
from mmrec_assets.resources import CatalogueSource, StorageFolder
from mmrec_assets_tests.conftest import REAL_SAMPLE

pytestmark = pytest.mark.skipif(
    not (REAL_SAMPLE / "X.csv").is_file(), reason=f"no real sample at {REAL_SAMPLE}"
)

# 64 px photos keep the test to a couple of minutes; the README's figures use the defaults.
RUN_CONFIG = {"ops": {"image_features_and_pixels": {"config": {"image_size": 64}}}}


def test_the_full_pipeline_runs_on_the_real_sample(tmp_path):
    storage = StorageFolder(path=str(tmp_path / "storage"))
    defs = build_definitions(storage, CatalogueSource(data_dir=str(REAL_SAMPLE)))
    (tmp_path / "home").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        result = defs.resolve_job_def(FULL_PIPELINE_JOB).execute_in_process(
            run_config=RUN_CONFIG, instance=instance
        )
    assert result.success

    metadata = {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert metadata["raw_catalogue"]["products"].value == 544
    assert metadata["raw_catalogue"]["classes"].value == 27
    assert metadata["preprocessed_images"]["rejected photos"].value == 0
    scores = {
        name: metadata["model_evaluation"][f"{name} test weighted F1"].value
        for name in ("text", "image", "fused")
    }
    print(f"real sample, test weighted F1: {scores}")
    # 544 rows leave 81 test rows over 27 classes: the text branch must still beat chance (1/27).
    assert scores["text"] > 0.1

    predictions = pd.read_parquet(
        storage.store().current_path("product_predictions") / "table.parquet"
    )
    assert predictions.empty
