import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mmrec_assets.ml.sample import PRDTYPECODES, SampleSummary, generate_sample

ROWS_PER_CLASS = 3
UNLABELLED_ROWS = 5
IMAGE_PX = 64


def small_sample(out_dir: Path, **overrides: object) -> SampleSummary:
    arguments = {
        "rows_per_class": ROWS_PER_CLASS,
        "unlabelled_rows": UNLABELLED_ROWS,
        "image_px": IMAGE_PX,
    }
    arguments.update(overrides)
    return generate_sample(out_dir, **arguments)


def image_path(root: Path, row: pd.Series) -> Path:
    return root / "images" / f"image_{row.imageid}_product_{row.productid}.jpg"


def decodes(path: Path) -> bool:
    try:
        with Image.open(path) as picture:
            picture.load()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    return small_sample(tmp_path_factory.mktemp("sample") / "rakuten")


@pytest.fixture(scope="module")
def x_frame(sample: SampleSummary) -> pd.DataFrame:
    return pd.read_csv(sample.root / "X.csv", index_col=0)


@pytest.fixture(scope="module")
def y_frame(sample: SampleSummary) -> pd.DataFrame:
    return pd.read_csv(sample.root / "Y.csv", index_col=0)


def test_codes_are_the_27_challenge_codes_in_order():
    assert PRDTYPECODES == (
        (10, 40, 50, 60, 1140, 1160, 1180, 1280, 1281, 1300, 1301, 1302, 1320, 1560)
        + (1920, 1940, 2060, 2220, 2280, 2403, 2462, 2522, 2582, 2583, 2585, 2705, 2905)
    )


def test_summary_counts(sample: SampleSummary):
    assert sample.labelled_rows == 27 * ROWS_PER_CLASS
    assert sample.unlabelled_rows == UNLABELLED_ROWS
    assert sample.missing_images == 1
    assert sample.corrupt_images == 1


def test_layout(sample: SampleSummary):
    names = {path.name for path in sample.root.iterdir()}
    assert names == {"X.csv", "Y.csv", "images", "unlabelled", "SAMPLE.json"}
    assert {path.name for path in (sample.root / "unlabelled").iterdir()} == {"X.csv", "images"}

    # Nothing is left behind next to the sample once it is renamed into place.
    assert [path.name for path in sample.root.parent.iterdir()] == [sample.root.name]


def test_headers_start_with_an_unnamed_index(sample: SampleSummary):
    x_header = (sample.root / "X.csv").read_text(encoding="utf-8").splitlines()[0]
    y_header = (sample.root / "Y.csv").read_text(encoding="utf-8").splitlines()[0]
    unlabelled_header = (
        (sample.root / "unlabelled" / "X.csv").read_text(encoding="utf-8").splitlines()[0]
    )

    assert x_header == ",designation,description,productid,imageid"
    assert y_header == ",prdtypecode"
    assert unlabelled_header == x_header


def test_x_and_y_share_their_index(x_frame: pd.DataFrame, y_frame: pd.DataFrame):
    assert list(x_frame.columns) == ["designation", "description", "productid", "imageid"]
    assert list(y_frame.columns) == ["prdtypecode"]
    assert x_frame.index.equals(y_frame.index)
    assert x_frame.index.is_unique
    assert x_frame.index.dtype.kind == "i"
    assert list(x_frame.index) != list(range(len(x_frame)))


def test_ids_are_unique_positive_ints(x_frame: pd.DataFrame):
    for column in ("productid", "imageid"):
        assert x_frame[column].dtype.kind == "i"
        assert x_frame[column].is_unique
        assert (x_frame[column] > 0).all()


def test_every_code_has_rows_per_class_rows(y_frame: pd.DataFrame):
    counts = y_frame["prdtypecode"].value_counts()
    assert sorted(counts.index) == list(PRDTYPECODES)
    assert (counts == ROWS_PER_CLASS).all()


def test_image_files_match_the_rows(sample: SampleSummary, x_frame: pd.DataFrame):
    expected = {image_path(sample.root, row).name for _, row in x_frame.iterrows()}
    on_disk = {path.name for path in (sample.root / "images").iterdir()}

    assert on_disk <= expected
    assert len(expected - on_disk) == sample.missing_images
    assert all(re.fullmatch(r"image_\d+_product_\d+\.jpg", name) for name in on_disk)


def test_images_have_the_requested_size_and_some_are_grey(
    sample: SampleSummary, x_frame: pd.DataFrame
):
    modes = []
    for _, row in x_frame.iterrows():
        path = image_path(sample.root, row)
        if not path.exists() or not decodes(path):
            continue
        with Image.open(path) as picture:
            assert picture.format == "JPEG"
            assert picture.size == (IMAGE_PX, IMAGE_PX)
            modes.append(picture.mode)

    assert set(modes) == {"RGB", "L"}
    assert modes.count("L") < len(modes) / 10


def test_defects_are_as_promised(sample: SampleSummary, x_frame: pd.DataFrame):
    paths = [image_path(sample.root, row) for _, row in x_frame.iterrows()]
    missing = [path for path in paths if not path.exists()]
    corrupt = [path for path in paths if path.exists() and not decodes(path)]

    assert len(missing) == 1
    assert len(corrupt) == 1
    with pytest.raises(OSError):
        with Image.open(corrupt[0]) as picture:
            picture.load()


def test_unlabelled_set(sample: SampleSummary, x_frame: pd.DataFrame):
    root = sample.root / "unlabelled"
    unlabelled = pd.read_csv(root / "X.csv", index_col=0)

    assert len(unlabelled) == UNLABELLED_ROWS
    assert list(unlabelled.columns) == list(x_frame.columns)
    assert not (root / "Y.csv").exists()
    assert "prdtypecode" not in unlabelled.columns
    assert not set(unlabelled.index) & set(x_frame.index)
    assert not set(unlabelled["productid"]) & set(x_frame["productid"])
    assert not set(unlabelled["imageid"]) & set(x_frame["imageid"])

    present = [image_path(root, row).exists() for _, row in unlabelled.iterrows()]
    assert present.count(False) == 1
    assert len(list((root / "images").iterdir())) == UNLABELLED_ROWS - 1


def test_sample_record(sample: SampleSummary):
    record = json.loads((sample.root / "SAMPLE.json").read_text(encoding="utf-8"))

    assert record["arguments"] == {
        "rows_per_class": ROWS_PER_CLASS,
        "unlabelled_rows": UNLABELLED_ROWS,
        "image_px": IMAGE_PX,
        "seed": 0,
        "defects": True,
    }
    assert record["labelled_rows"] == sample.labelled_rows
    assert record["missing_images"] == 1
    assert record["corrupt_images"] == 1


def test_text_looks_like_the_catalogue(x_frame: pd.DataFrame):
    descriptions = x_frame["description"]
    written = descriptions.dropna()
    text = " ".join(x_frame["designation"]) + " " + " ".join(written)

    assert descriptions.isna().any()
    assert 0.15 < descriptions.isna().mean() < 0.6
    assert x_frame["designation"].notna().all()
    assert written.str.contains("<p>").any()
    assert written.str.contains("<li>|<br />|<b>").any()
    assert written.str.contains("&eacute;|&amp;|&nbsp;|&#39;").any()
    assert re.search("[éèêàç]", text)
    assert re.search(r"\d", text)


def test_same_arguments_give_the_same_bytes(tmp_path: Path, sample: SampleSummary):
    again = small_sample(tmp_path / "again")

    for name in ("X.csv", "Y.csv", "unlabelled/X.csv", "SAMPLE.json"):
        assert (again.root / name).read_bytes() == (sample.root / name).read_bytes()
    first = sorted((sample.root / "images").iterdir())
    second = sorted((again.root / "images").iterdir())
    assert [path.name for path in first] == [path.name for path in second]
    for one, other in list(zip(first, second, strict=True))[:: len(first) // 5]:
        assert one.read_bytes() == other.read_bytes()


def test_another_seed_gives_another_sample(tmp_path: Path, sample: SampleSummary):
    other = small_sample(tmp_path / "other", seed=1)

    assert (other.root / "X.csv").read_bytes() != (sample.root / "X.csv").read_bytes()


def test_without_defects_every_image_decodes(tmp_path: Path):
    clean = small_sample(tmp_path / "clean", defects=False)
    x_frame = pd.read_csv(clean.root / "X.csv", index_col=0)
    unlabelled = pd.read_csv(clean.root / "unlabelled" / "X.csv", index_col=0)

    assert clean.missing_images == 0 and clean.corrupt_images == 0
    assert all(decodes(image_path(clean.root, row)) for _, row in x_frame.iterrows())
    unlabelled_root = clean.root / "unlabelled"
    assert all(decodes(image_path(unlabelled_root, row)) for _, row in unlabelled.iterrows())


def test_existing_folder_is_refused(tmp_path: Path):
    out_dir = tmp_path / "taken"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("mine", encoding="utf-8")

    with pytest.raises(FileExistsError):
        small_sample(out_dir)
    assert [path.name for path in out_dir.iterdir()] == ["keep.txt"]
    assert [path.name for path in tmp_path.iterdir()] == ["taken"]


@pytest.mark.parametrize(
    "overrides", [{"rows_per_class": 0}, {"unlabelled_rows": -1}, {"image_px": 8}]
)
def test_bad_sizes_are_refused(tmp_path: Path, overrides: dict[str, int]):
    with pytest.raises(ValueError):
        small_sample(tmp_path / "bad", **overrides)
    assert not (tmp_path / "bad").exists()


def class_numbers(y_frame: pd.DataFrame) -> np.ndarray:
    return np.searchsorted(PRDTYPECODES, y_frame["prdtypecode"].to_numpy())


def test_words_follow_the_text_group(x_frame: pd.DataFrame, y_frame: pd.DataFrame):
    groups = class_numbers(y_frame) // 3
    words = [set(re.findall(r"[^\W\d_]{3,}", text.lower())) for text in x_frame["designation"]]

    within, across = [], []
    for one in range(len(words)):
        for other in range(one + 1, len(words)):
            overlap = len(words[one] & words[other]) / len(words[one] | words[other])
            (within if groups[one] == groups[other] else across).append(overlap)

    assert np.mean(within) > 2 * np.mean(across)


def test_colours_follow_the_image_group(
    sample: SampleSummary, x_frame: pd.DataFrame, y_frame: pd.DataFrame
):
    groups = class_numbers(y_frame) % 9
    colours: dict[int, list[np.ndarray]] = {group: [] for group in range(9)}
    for group, (_, row) in zip(groups, x_frame.iterrows(), strict=True):
        path = image_path(sample.root, row)
        if path.exists() and decodes(path):
            with Image.open(path) as picture:
                if picture.mode == "RGB":
                    colours[group].append(np.asarray(picture, dtype=float).mean(axis=(0, 1)))

    typical = np.array([np.median(colours[group], axis=0) for group in range(9)])
    distances = np.linalg.norm(typical[:, None] - typical[None, :], axis=-1)
    assert distances[~np.eye(9, dtype=bool)].min() > 30
