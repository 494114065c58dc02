"""The files of the preprocessed photos and of their stored VGG16 features.

Preprocessed photos: ``pixels.npy`` (``(n, size, size, 3)`` uint8) and ``manifest.parquet`` (one
row per product, in the same order: ``row_id``, ``split``, ``image_path``, ``rejection_reason``).
Features: ``features.npy`` (``(n, 512)`` float32, NaN for rejected photos), the same manifest,
and the encoder that made them (``encoder.keras`` with ``encoder.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PIXELS_FILE = "pixels.npy"
FEATURES_FILE = "features.npy"
MANIFEST_FILE = "manifest.parquet"
ENCODER_FILE = "encoder.keras"
ENCODER_INFO_FILE = "encoder.json"


@dataclass(frozen=True)
class StoredFeatures:
    """Features of every product's photo, aligned with the manifest rows.

    Attributes:
        manifest: One row per product, indexed by ``row_id``, with ``split`` and
            ``rejection_reason`` (``""`` for photos that were decoded).
        features: ``(n, 512)`` float32 array; rows of rejected photos are NaN.
        encoder_info: ``image_size``, ``weights_source`` and ``weights_warning``.
    """

    manifest: pd.DataFrame
    features: np.ndarray
    encoder_info: dict[str, Any]

    def usable(self, split: str) -> tuple[pd.Index, np.ndarray]:
        """Row ids and features of one split's decoded photos."""
        mask = (self.manifest["split"] == split) & (self.manifest["rejection_reason"] == "")
        return self.manifest.index[mask.to_numpy()], self.features[mask.to_numpy()]


def read_features(folder: Path) -> StoredFeatures:
    """Read the features, manifest and encoder facts written by the feature extraction."""
    return StoredFeatures(
        manifest=pd.read_parquet(folder / MANIFEST_FILE),
        features=np.load(folder / FEATURES_FILE),
        encoder_info=json.loads((folder / ENCODER_INFO_FILE).read_text(encoding="utf-8")),
    )


def load_encoder(folder: Path):
    """The Keras encoder that made the features in ``folder``."""
    import keras

    return keras.models.load_model(folder / ENCODER_FILE)
