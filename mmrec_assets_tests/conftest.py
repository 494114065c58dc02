"""Shared settings for tests that run the asset graph on a tiny built-in sample."""

import os
import socket
from pathlib import Path

import pytest

from mmrec_assets.definitions import build_definitions
from mmrec_assets.resources import CatalogueSource, StorageFolder

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_SAMPLE = Path(
    os.environ.get("MMREC_REAL_SAMPLE_DIR", REPO_ROOT.parent / "shared" / "data" / "rakuten_sample")
)

# Small photos and few epochs: the point is that every step runs, not that the models are good.
TINY_RUN_CONFIG = {
    "ops": {
        "image_features_and_pixels": {"config": {"image_size": 32, "weights": "none"}},
        "text_lstm_model": {"config": {"epochs": 2, "sequence_length": 20}},
        "image_vgg16_model": {"config": {"epochs": 3}},
    }
}


@pytest.fixture
def tiny_definitions(tmp_path):
    """Definitions over a fresh storage folder and a built-in sample of 3 products per class."""
    storage = StorageFolder(path=str(tmp_path / "storage"))
    return build_definitions(storage, CatalogueSource(sample_rows_per_class=3)), storage


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
