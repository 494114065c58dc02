import numpy as np
import pandas as pd
import pytest

from mmrec_assets.ml.splits import SPLITS, split_catalogue


def make_labels(sizes: dict[int, int], first_row: int = 1000) -> pd.Series:
    """Labels with ``sizes[code]`` rows of each class, classes interleaved along the index."""
    codes = [code for code, size in sizes.items() for _ in range(size)]
    values = np.random.default_rng(0).permutation(codes)
    index = pd.Index(range(first_row, first_row + len(values)), name="row_id")
    return pd.Series(values, index=index, name="prdtypecode")


def counts(labels: pd.Series, split: pd.Series, code: int) -> dict[str, int]:
    chosen = split[labels == code]
    return {name: int((chosen == name).sum()) for name in SPLITS}


@pytest.fixture
def labels() -> pd.Series:
    return make_labels({10: 100, 40: 37, 1160: 10, 2583: 4, 2905: 3})


def test_split_names():
    assert SPLITS == ("train", "validation", "test")


def test_every_row_gets_exactly_one_split(labels: pd.Series):
    split = split_catalogue(labels)

    assert split.index.equals(labels.index)
    assert split.name == "split"
    assert split.notna().all()
    assert set(split.unique()) == set(SPLITS)


def test_sets_are_disjoint_and_cover_every_row(labels: pd.Series):
    split = split_catalogue(labels)

    rows = {name: set(split.index[split == name]) for name in SPLITS}

    assert rows["train"].isdisjoint(rows["validation"])
    assert rows["train"].isdisjoint(rows["test"])
    assert rows["validation"].isdisjoint(rows["test"])
    assert rows["train"] | rows["validation"] | rows["test"] == set(labels.index)
    assert sum(len(found) for found in rows.values()) == len(labels)


def test_every_class_of_three_or_more_rows_reaches_every_set(labels: pd.Series):
    split = split_catalogue(labels)

    for code in [10, 40, 1160, 2583, 2905]:
        found = counts(labels, split, code)
        assert min(found.values()) >= 1, (code, found)
        assert sum(found.values()) == int((labels == code).sum())


def test_class_shares_follow_the_fractions(labels: pd.Series):
    split = split_catalogue(labels, validation_fraction=0.15, test_fraction=0.15)

    assert counts(labels, split, 10) == {"train": 70, "validation": 15, "test": 15}
    assert counts(labels, split, 2905) == {"train": 1, "validation": 1, "test": 1}


def test_class_shares_follow_uneven_fractions():
    labels = make_labels({7: 100})

    split = split_catalogue(labels, validation_fraction=0.1, test_fraction=0.25)

    assert counts(labels, split, 7) == {"train": 65, "validation": 10, "test": 25}


def test_large_fractions_still_leave_training_rows():
    labels = make_labels({7: 3, 8: 5})

    split = split_catalogue(labels, validation_fraction=0.45, test_fraction=0.45)

    assert counts(labels, split, 7) == {"train": 1, "validation": 1, "test": 1}
    assert counts(labels, split, 8)["train"] >= 1


def test_same_seed_gives_the_same_split(labels: pd.Series):
    first = split_catalogue(labels, seed=3)
    second = split_catalogue(labels, seed=3)

    assert first.equals(second)


def test_another_seed_gives_another_split(labels: pd.Series):
    first = split_catalogue(labels, seed=3)
    second = split_catalogue(labels, seed=4)

    assert not first.equals(second)
    assert counts(labels, first, 10) == counts(labels, second, 10)


def test_split_does_not_depend_on_row_order(labels: pd.Series):
    shuffled = labels.sample(frac=1.0, random_state=0)
    assert not shuffled.index.equals(labels.index)

    in_order = split_catalogue(labels, seed=11)
    out_of_order = split_catalogue(shuffled, seed=11)

    assert out_of_order.index.equals(shuffled.index)
    assert out_of_order.sort_index().equals(in_order.sort_index())


def test_classes_of_fewer_than_three_rows_go_to_train():
    labels = make_labels({10: 20, 50: 1, 60: 2})

    split = split_catalogue(labels)

    assert counts(labels, split, 50) == {"train": 1, "validation": 0, "test": 0}
    assert counts(labels, split, 60) == {"train": 2, "validation": 0, "test": 0}
    assert min(counts(labels, split, 10).values()) >= 1


def test_string_index_is_supported():
    labels = pd.Series([1, 1, 1, 2, 2], index=["e", "d", "c", "b", "a"])

    split = split_catalogue(labels)

    assert split.index.tolist() == ["e", "d", "c", "b", "a"]
    assert sorted(split[labels == 1]) == ["test", "train", "validation"]
    assert split[labels == 2].tolist() == ["train", "train"]


def test_empty_labels_give_an_empty_split():
    split = split_catalogue(pd.Series([], dtype="int64"))

    assert split.empty


@pytest.mark.parametrize(
    ("validation_fraction", "test_fraction"),
    [(0.0, 0.15), (0.15, 0.0), (-0.1, 0.2), (0.2, -0.1), (0.5, 0.5), (0.7, 0.4)],
)
def test_invalid_fractions_are_rejected(
    labels: pd.Series, validation_fraction: float, test_fraction: float
):
    with pytest.raises(ValueError, match="validation_fraction and test_fraction"):
        split_catalogue(
            labels, validation_fraction=validation_fraction, test_fraction=test_fraction
        )
