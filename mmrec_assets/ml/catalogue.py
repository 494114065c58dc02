"""Reading a product catalogue laid out as in the Rakuten France challenge.

A catalogue folder holds ``X.csv`` (an unnamed index column, ``designation``, ``description``,
``productid``, ``imageid``), optionally ``Y.csv`` (the same index, ``prdtypecode``) and
``images/image_<imageid>_product_<productid>.jpg``. File names can be changed through
:class:`CatalogueLayout` to read the challenge's own ``X_train_update.csv`` and friends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TEXT_COLUMNS = ("designation", "description")
ID_COLUMNS = ("productid", "imageid")
LABEL_COLUMN = "prdtypecode"
INDEX_NAME = "row_id"


class CatalogueError(ValueError):
    """A catalogue file is missing or does not follow the challenge layout."""


@dataclass(frozen=True)
class CatalogueLayout:
    """Names of the files inside a catalogue folder."""

    x_file: str = "X.csv"
    y_file: str = "Y.csv"
    images_dir: str = "images"


def image_file_name(imageid: int, productid: int) -> str:
    """File name of a product's photo in the challenge layout."""
    return f"image_{imageid}_product_{productid}.jpg"


def read_catalogue(
    root: Path | str, layout: CatalogueLayout = CatalogueLayout(), labelled: bool = True
) -> pd.DataFrame:
    """Read a catalogue folder into one table, one row per product.

    Args:
        root: The catalogue folder.
        layout: Names of the files inside it.
        labelled: Whether to read the labels file and join it on the index.

    Returns:
        A table indexed by the files' own index (named ``row_id``) with the text columns as
        strings (empty when absent), ``productid`` and ``imageid`` as integers, ``image_path``
        (the resolved photo path, which may not exist) and, when labelled, ``prdtypecode``.

    Raises:
        CatalogueError: naming the file and the problem, when a file is missing, a column is
            missing, the index repeats, the two files' indices differ, a product id repeats, or a
            label or id is not an integer.
    """
    root = Path(root)
    x_path = root / layout.x_file
    products = _read_csv(x_path, TEXT_COLUMNS + ID_COLUMNS)

    for column in TEXT_COLUMNS:
        products[column] = products[column].fillna("").astype(str)
    for column in ID_COLUMNS:
        products[column] = _integer_column(products[column], x_path)

    repeated = products["productid"][products["productid"].duplicated(keep=False)]
    if not repeated.empty:
        raise CatalogueError(
            f"{x_path}: productid repeats on {len(repeated)} rows "
            f"(ids {sorted(set(repeated.tolist()))[:5]}); each product must appear once."
        )

    images = root / layout.images_dir
    products["image_path"] = [
        str(images / image_file_name(image, product))
        for image, product in zip(products["imageid"], products["productid"], strict=True)
    ]

    if labelled:
        y_path = root / layout.y_file
        labels = _read_csv(y_path, (LABEL_COLUMN,))
        _check_same_index(products.index, labels.index, x_path, y_path)
        products[LABEL_COLUMN] = _integer_column(labels[LABEL_COLUMN], y_path)

    return products


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise CatalogueError(f"{path}: file not found.")

    # Every field is read as text ("0123" stays "0123", "NA" stays "NA"); only empty fields
    # become missing. Ids and labels are converted, and checked, afterwards.
    table = pd.read_csv(path, index_col=0, dtype=str, keep_default_na=False, na_values=[""])
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise CatalogueError(
            f"{path}: missing column(s) {missing}; found {list(table.columns)}. "
            "The first column must be the unnamed index."
        )

    index = pd.to_numeric(pd.Series(table.index), errors="coerce")
    if index.isna().any() or (index % 1 != 0).any():
        raise CatalogueError(f"{path}: the index column (first, unnamed) must hold integers.")
    table.index = pd.Index(index.astype("int64"), name=INDEX_NAME)
    duplicated = table.index[table.index.duplicated()]
    if len(duplicated):
        raise CatalogueError(
            f"{path}: index values repeat ({len(duplicated)} rows, e.g. {duplicated[:5].tolist()})."
        )
    return table


def _integer_column(values: pd.Series, path: Path) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values[numbers.isna() | (numbers % 1 != 0)]
    if not bad.empty:
        examples = ", ".join(f"row {row}: {value!r}" for row, value in bad.head(5).items())
        raise CatalogueError(
            f"{path}: column '{values.name}' must hold integers; "
            f"{len(bad)} value(s) do not ({examples})."
        )
    return numbers.astype("int64")


def _check_same_index(x_index: pd.Index, y_index: pd.Index, x_path: Path, y_path: Path) -> None:
    only_x = x_index.difference(y_index)
    only_y = y_index.difference(x_index)
    if len(only_x) or len(only_y):
        raise CatalogueError(
            f"{x_path} and {y_path} do not share the same index: "
            f"{len(only_x)} row(s) only in {x_path.name} (e.g. {only_x[:5].tolist()}), "
            f"{len(only_y)} only in {y_path.name} (e.g. {only_y[:5].tolist()})."
        )


BASE_SOURCE = "catalogue"


def combine_catalogues(
    base: pd.DataFrame, extra: dict[str, pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Append labelled batches to the base catalogue, keeping each product once.

    Row ids become ``"<source>:<index>"`` strings (``source`` is ``"catalogue"`` or the batch
    name), unique across sources. A batch row whose productid is already in the catalogue or an
    earlier batch (in name order) is left out and reported.

    Args:
        base: The labelled base catalogue.
        extra: Labelled batches by name.

    Returns:
        The combined table with a ``source`` column, and the left-out rows with their ``source``
        and ``reason``.
    """
    parts = [_with_source(base, BASE_SOURCE)]
    seen = set(base["productid"])
    rejected = []
    for name in sorted(extra):
        batch = _with_source(extra[name], name)
        repeated = batch["productid"].isin(seen)
        if repeated.any():
            rejected.append(batch[repeated].assign(reason="productid already in the catalogue"))
        parts.append(batch[~repeated])
        seen.update(batch["productid"])

    combined = pd.concat(parts)
    rejected_rows = pd.concat(rejected) if rejected else combined.iloc[:0].assign(reason="")
    return combined, rejected_rows


def _with_source(table: pd.DataFrame, source: str) -> pd.DataFrame:
    renamed = table.assign(source=source)
    renamed.index = pd.Index([f"{source}:{row}" for row in table.index], name=INDEX_NAME)
    return renamed
