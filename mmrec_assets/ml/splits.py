"""Stratified, seeded train / validation / test split of a labelled catalogue."""

from __future__ import annotations

import numpy as np
import pandas as pd

SPLITS = ("train", "validation", "test")


def split_catalogue(
    labels: pd.Series,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 42,
) -> pd.Series:
    """Assign every row to exactly one of train, validation and test, class by class.

    Each class is shuffled with the seed and cut by the fractions, so every class keeps its share
    in each set. A class of three rows or more puts at least one row in each set; smaller classes
    go to train only, since a model cannot be checked on a class it has never seen.

    Args:
        labels: The class of each row, indexed by row.
        validation_fraction: Share of each class for validation.
        test_fraction: Share of each class for test.
        seed: Seed of the shuffle; the same labels and seed give the same split.

    Returns:
        A series aligned with ``labels`` holding ``"train"``, ``"validation"`` or ``"test"``.
    """
    if validation_fraction <= 0 or test_fraction <= 0 or validation_fraction + test_fraction >= 1:
        raise ValueError(
            "validation_fraction and test_fraction must be positive and sum to less than 1; "
            f"got {validation_fraction} and {test_fraction}."
        )

    rng = np.random.default_rng(seed)
    assignment = pd.Series("train", index=labels.index, name="split", dtype=object)

    # Sorting the classes and the rows makes the split independent of the file's row order.
    for _, rows in sorted(labels.groupby(labels).groups.items()):
        rows = np.sort(np.asarray(rows))
        n = len(rows)
        if n < 3:
            continue
        n_test = max(1, round(n * test_fraction))
        n_validation = max(1, round(n * validation_fraction))
        if n_test + n_validation >= n:
            n_test, n_validation = 1, 1
        shuffled = rng.permutation(rows)
        assignment.loc[shuffled[:n_test]] = "test"
        assignment.loc[shuffled[n_test : n_test + n_validation]] = "validation"

    return assignment
