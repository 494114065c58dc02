from pathlib import Path

import pytest

from mmrec_assets.ml.catalogue import (
    CatalogueError,
    CatalogueLayout,
    image_file_name,
    read_catalogue,
)

X_HEADER = ",designation,description,productid,imageid"
Y_HEADER = ",prdtypecode"


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_catalogue(root: Path, x_rows: list[str], y_rows: list[str] | None = None) -> None:
    write_lines(root / "X.csv", [X_HEADER, *x_rows])
    if y_rows is not None:
        write_lines(root / "Y.csv", [Y_HEADER, *y_rows])


def read_error(root: Path, **kwargs) -> str:
    with pytest.raises(CatalogueError) as caught:
        read_catalogue(root, **kwargs)
    return str(caught.value)


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    write_catalogue(
        tmp_path,
        [
            "0,Tente pliante,Tente 2 places,1001,5001",
            "1,Lampe,,1002,5002",
            "2,NA,NA,1003,5003",
        ],
        ["0,2583", "1,1560", "2,10"],
    )
    return tmp_path


def test_image_file_name_follows_the_challenge_layout():
    assert image_file_name(5001, 1001) == "image_5001_product_1001.jpg"


def test_read_catalogue_returns_one_row_per_product(catalogue: Path):
    products = read_catalogue(catalogue)

    assert products.index.name == "row_id"
    assert products.index.tolist() == [0, 1, 2]
    assert products.index.dtype == "int64"
    assert list(products.columns) == [
        "designation",
        "description",
        "productid",
        "imageid",
        "image_path",
        "prdtypecode",
    ]
    for column in ["productid", "imageid", "prdtypecode"]:
        assert products[column].dtype == "int64", column
    assert products["productid"].tolist() == [1001, 1002, 1003]
    assert products["imageid"].tolist() == [5001, 5002, 5003]
    assert products["prdtypecode"].tolist() == [2583, 1560, 10]


def test_read_catalogue_keeps_text_as_strings(catalogue: Path):
    products = read_catalogue(catalogue)

    assert products["designation"].tolist() == ["Tente pliante", "Lampe", "NA"]
    assert products["description"].tolist() == ["Tente 2 places", "", "NA"]
    for column in ["designation", "description"]:
        assert all(type(value) is str for value in products[column]), column


def test_read_catalogue_resolves_image_paths(catalogue: Path):
    products = read_catalogue(catalogue)

    assert products["image_path"].tolist() == [
        str(catalogue / "images" / "image_5001_product_1001.jpg"),
        str(catalogue / "images" / "image_5002_product_1002.jpg"),
        str(catalogue / "images" / "image_5003_product_1003.jpg"),
    ]


def test_read_catalogue_joins_labels_by_index_not_by_position(tmp_path: Path):
    write_catalogue(
        tmp_path,
        ["7,a,,1,11", "3,b,,2,12", "5,c,,3,13"],
        ["5,30", "7,10", "3,20"],
    )

    products = read_catalogue(tmp_path)

    assert products.index.tolist() == [7, 3, 5]
    assert products["prdtypecode"].tolist() == [10, 20, 30]
    assert products["prdtypecode"].dtype == "int64"


def test_read_catalogue_without_labels_needs_no_labels_file(tmp_path: Path):
    write_catalogue(tmp_path, ["0,a,b,1,11", "1,c,d,2,12"])

    products = read_catalogue(tmp_path, labelled=False)

    assert "prdtypecode" not in products.columns
    assert products["productid"].tolist() == [1, 2]


def test_read_catalogue_follows_a_custom_layout(tmp_path: Path):
    layout = CatalogueLayout(
        x_file="X_train_update.csv", y_file="Y_train_CVw08PX.csv", images_dir="image_train"
    )
    write_lines(tmp_path / layout.x_file, [X_HEADER, "0,a,b,42,4200"])
    write_lines(tmp_path / layout.y_file, [Y_HEADER, "0,2905"])

    products = read_catalogue(tmp_path, layout=layout)

    assert products["prdtypecode"].tolist() == [2905]
    assert products["image_path"].tolist() == [
        str(tmp_path / "image_train" / "image_4200_product_42.jpg")
    ]


def test_read_catalogue_accepts_a_string_root(catalogue: Path):
    products = read_catalogue(str(catalogue))

    assert len(products) == 3


def test_read_catalogue_keeps_numeric_looking_text_verbatim(tmp_path: Path):
    write_catalogue(tmp_path, ["0,0123,,1,11", "1,45,2019,2,12"])

    products = read_catalogue(tmp_path, labelled=False)

    assert products["designation"].tolist() == ["0123", "45"]
    assert products["description"].tolist() == ["", "2019"]


def test_missing_products_file_is_reported(tmp_path: Path):
    message = read_error(tmp_path)

    assert str(tmp_path / "X.csv") in message
    assert "file not found" in message


def test_missing_labels_file_is_reported(tmp_path: Path):
    write_catalogue(tmp_path, ["0,a,b,1,11"])

    message = read_error(tmp_path)

    assert str(tmp_path / "Y.csv") in message
    assert "file not found" in message


def test_missing_column_is_reported(tmp_path: Path):
    write_lines(tmp_path / "X.csv", [",designation,description,productid", "0,a,b,1"])

    message = read_error(tmp_path, labelled=False)

    assert str(tmp_path / "X.csv") in message
    assert "missing column(s) ['imageid']" in message


def test_missing_label_column_is_reported(tmp_path: Path):
    write_catalogue(tmp_path, ["0,a,b,1,11"])
    write_lines(tmp_path / "Y.csv", [",label", "0,10"])

    message = read_error(tmp_path)

    assert str(tmp_path / "Y.csv") in message
    assert "missing column(s) ['prdtypecode']" in message


def test_index_mismatch_between_files_is_reported(tmp_path: Path):
    write_catalogue(tmp_path, ["0,a,,1,11", "1,b,,2,12", "2,c,,3,13"], ["0,10", "1,20", "5,30"])

    message = read_error(tmp_path)

    assert str(tmp_path / "X.csv") in message
    assert str(tmp_path / "Y.csv") in message
    assert "1 row(s) only in X.csv (e.g. [2])" in message
    assert "1 only in Y.csv (e.g. [5])" in message


def test_repeated_index_in_products_file_is_reported(tmp_path: Path):
    write_catalogue(tmp_path, ["0,a,,1,11", "1,b,,2,12", "1,c,,3,13"], ["0,10", "1,20"])

    message = read_error(tmp_path)

    assert str(tmp_path / "X.csv") in message
    assert "index values repeat" in message
    assert "[1]" in message


def test_repeated_index_in_labels_file_is_reported(tmp_path: Path):
    write_catalogue(tmp_path, ["0,a,,1,11", "1,b,,2,12"], ["0,10", "1,20", "1,30"])

    message = read_error(tmp_path)

    assert str(tmp_path / "Y.csv") in message
    assert "index values repeat" in message


def test_non_integer_index_is_reported(tmp_path: Path):
    write_catalogue(tmp_path, ["a,x,,1,11", "b,y,,2,12"])

    message = read_error(tmp_path, labelled=False)

    assert str(tmp_path / "X.csv") in message
    assert "index column" in message


def test_repeated_product_id_is_reported(tmp_path: Path):
    write_catalogue(tmp_path, ["0,a,,7,11", "1,b,,8,12", "2,c,,7,13"], ["0,10", "1,20", "2,30"])

    message = read_error(tmp_path)

    assert str(tmp_path / "X.csv") in message
    assert "productid repeats on 2 rows" in message
    assert "[7]" in message


@pytest.mark.parametrize(
    ("label", "shown"),
    [("abc", "'abc'"), ("12.5", "'12.5'"), ("", "nan")],
    ids=["text", "fraction", "empty"],
)
def test_non_integer_label_is_reported(tmp_path: Path, label: str, shown: str):
    write_catalogue(tmp_path, ["0,a,,1,11", "1,b,,2,12"], ["0,10", f"1,{label}"])

    message = read_error(tmp_path)

    assert str(tmp_path / "Y.csv") in message
    assert "column 'prdtypecode' must hold integers" in message
    assert f"row 1: {shown}" in message


@pytest.mark.parametrize("imageid", ["img", "3.5", ""], ids=["text", "fraction", "empty"])
def test_non_integer_image_id_is_reported(tmp_path: Path, imageid: str):
    write_catalogue(tmp_path, ["0,a,,1,11", f"1,b,,2,{imageid}"], ["0,10", "1,20"])

    message = read_error(tmp_path)

    assert str(tmp_path / "X.csv") in message
    assert "column 'imageid' must hold integers" in message
    assert "row 1:" in message


def test_catalogue_error_is_a_value_error():
    assert issubclass(CatalogueError, ValueError)
