"""Scores, per-class tables and confusion-matrix pictures for class predictions."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score


def score(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Accuracy and support-weighted F1."""
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "weighted_f1": float(f1_score(labels, predictions, average="weighted", zero_division=0)),
    }


def per_class_f1_markdown(
    results: Mapping[str, tuple[np.ndarray, np.ndarray]], class_codes: Sequence[int]
) -> str:
    """A markdown table: one row per prdtypecode, and each model's rows scored and F1.

    Args:
        results: For each model name, the true and predicted class indices of the rows it scored.
        class_codes: prdtypecode of each class index.
    """
    indices = list(range(len(class_codes)))
    columns = []
    for labels, predicted in results.values():
        f1 = f1_score(labels, predicted, labels=indices, average=None, zero_division=0)
        columns.append((np.bincount(labels, minlength=len(class_codes)), f1))

    header = " | ".join(f"{name} rows | {name} F1" for name in results)
    lines = [f"| prdtypecode | {header} |", "|---:|" + "---:|---:|" * len(results)]
    for index, code in enumerate(class_codes):
        cells = " | ".join(f"{support[index]} | {f1[index]:.3f}" for support, f1 in columns)
        lines.append(f"| {code} | {cells} |")
    return "\n".join(lines)


def confusion_matrix_png(
    labels: np.ndarray, predictions: np.ndarray, class_codes: Sequence[int], title: str
) -> bytes:
    """A confusion-matrix heat map (rows true, columns predicted, normalised per row) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    matrix = confusion_matrix(labels, predictions, labels=list(range(len(class_codes))))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)

    figure, axes = plt.subplots(figsize=(9, 8), dpi=80)
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(class_codes))
    axes.set_xticks(ticks, [str(code) for code in class_codes], rotation=90, fontsize=7)
    axes.set_yticks(ticks, [str(code) for code in class_codes], fontsize=7)
    axes.set_xlabel("predicted prdtypecode")
    axes.set_ylabel("true prdtypecode")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.046, label="share of the true class")
    figure.tight_layout()

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
