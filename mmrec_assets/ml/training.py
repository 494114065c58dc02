"""Pieces shared by the two branches' training: class weights, callbacks and history."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np


@dataclass(frozen=True)
class FitSettings:
    """How long and how fast a branch trains."""

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 3
    seed: int = 0


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> dict[int, float]:
    """Weights inversely proportional to class frequency, averaging 1 over the training rows.

    Classes absent from ``labels`` get weight 1; they never occur in a batch anyway.
    """
    counts = np.bincount(labels, minlength=n_classes)
    present = counts > 0
    weights = np.ones(n_classes)
    weights[present] = len(labels) / (present.sum() * counts[present])
    return {index: float(weight) for index, weight in enumerate(weights)}


def early_stopping(patience: int) -> keras.callbacks.EarlyStopping:
    """Stop when validation loss stops improving and keep the best epoch's weights."""
    return keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )


def history_rows(history: keras.callbacks.History) -> list[dict[str, float]]:
    """One dict per epoch with the loss and accuracy on train and validation."""
    metrics = history.history
    epochs = len(metrics.get("loss", []))
    return [
        {"epoch": epoch + 1, **{name: float(values[epoch]) for name, values in metrics.items()}}
        for epoch in range(epochs)
    ]
