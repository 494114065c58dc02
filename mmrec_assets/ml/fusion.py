"""Late fusion of the two branches: a weighted average of their class probabilities.

The weight is chosen on the validation set, which neither branch was fitted on. The candidates
include 0 and 1 (one branch alone), so on validation the fused model's weighted F1 is never below
the better branch's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from mmrec_assets.ml.evaluation import score

TEXT_INPUT = "text"
PIXELS_INPUT = "pixels"


@dataclass(frozen=True)
class FusionFit:
    """The chosen text weight and the validation scores behind the choice.

    Attributes:
        text_weight: Weight of the text branch; the image branch gets ``1 - text_weight``.
        validation: Accuracy and weighted F1 of ``"text"``, ``"image"`` and ``"fused"``.
        curve: ``(text_weight, weighted_f1)`` for every candidate weight.
    """

    text_weight: float
    validation: dict[str, dict[str, float]]
    curve: list[tuple[float, float]] = field(default_factory=list)


def fuse(text_probabilities: np.ndarray, image_probabilities: np.ndarray, text_weight: float):
    """Weighted average of the two branches' probabilities (rows still sum to one)."""
    return text_weight * text_probabilities + (1.0 - text_weight) * image_probabilities


def fit_fusion(
    text_probabilities: np.ndarray,
    image_probabilities: np.ndarray,
    labels: np.ndarray,
    steps: int = 21,
) -> FusionFit:
    """Pick the text weight that maximises weighted F1 on validation rows.

    Ties are broken by accuracy, then by the weight closest to an even mix.

    Args:
        text_probabilities: ``(n, classes)`` text-branch probabilities on validation rows.
        image_probabilities: Image-branch probabilities on the same rows, same column order.
        labels: True class index of each row.
        steps: Number of evenly spaced candidate weights from 0 to 1 (at least 2).

    Returns:
        The chosen weight and the validation scores.
    """
    if text_probabilities.shape != image_probabilities.shape:
        raise ValueError(
            "The branches' probabilities must have the same shape (same rows, same class order); "
            f"got {text_probabilities.shape} and {image_probabilities.shape}."
        )
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    if len(labels) == 0:
        raise ValueError("Fusion needs at least one validation row with both text and image.")

    candidates = []
    for weight in np.linspace(0.0, 1.0, steps):
        fused = fuse(text_probabilities, image_probabilities, weight).argmax(axis=1)
        scores = score(labels, fused)
        candidates.append((scores["weighted_f1"], scores["accuracy"], -abs(weight - 0.5), weight))
    best = max(candidates)
    text_weight = float(best[3])

    validation = {
        "text": score(labels, text_probabilities.argmax(axis=1)),
        "image": score(labels, image_probabilities.argmax(axis=1)),
        "fused": score(
            labels, fuse(text_probabilities, image_probabilities, text_weight).argmax(1)
        ),
    }
    curve = [(float(c[3]), float(c[0])) for c in candidates]
    return FusionFit(text_weight=text_weight, validation=validation, curve=curve)


def build_fused_model(
    text_model: keras.Model, image_model: keras.Model, text_weight: float
) -> keras.Model:
    """One model from raw inputs to fused probabilities.

    Inputs are a dict: ``"text"`` (``(n, 1)`` preprocessed strings) and ``"pixels"``
    (``(n, size, size, 3)`` decoded photos). The weighting uses ``Rescaling`` and ``Add`` layers,
    so the saved file holds no custom code.
    """
    text = keras.Input(shape=(1,), dtype="string", name=TEXT_INPUT)
    pixels = keras.Input(shape=image_model.input_shape[1:], name=PIXELS_INPUT)
    weighted_text = keras.layers.Rescaling(text_weight, name="text_weight")(text_model(text))
    weighted_image = keras.layers.Rescaling(1.0 - text_weight, name="image_weight")(
        image_model(pixels)
    )
    fused = keras.layers.Add(name="fused_probabilities")([weighted_text, weighted_image])
    return keras.Model({TEXT_INPUT: text, PIXELS_INPUT: pixels}, fused, name="fused")
