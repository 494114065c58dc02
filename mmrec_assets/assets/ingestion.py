"""The labelled catalogue and its split into train, validation and test sets."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    Config,
    MetadataValue,
    Output,
    asset,
    asset_check,
)
from pydantic import Field

from mmrec_assets.assets.tables import counts_table, markdown_table
from mmrec_assets.ml.batches import scan_landing
from mmrec_assets.ml.catalogue import (
    LABEL_COLUMN,
    CatalogueError,
    combine_catalogues,
    read_catalogue,
)
from mmrec_assets.ml.splits import SPLITS, split_catalogue
from mmrec_assets.resources import CatalogueSource, LandingFolder, StorageFolder

GROUP = "ingestion"


@asset(group_name=GROUP, io_manager_key="table_io_manager")
def raw_catalogue(
    context: AssetExecutionContext,
    catalogue: CatalogueSource,
    storage: StorageFolder,
    landing: LandingFolder,
) -> Output[pd.DataFrame]:
    """Every labelled product: the catalogue and the labelled batches that have landed."""
    root = catalogue.root(storage)
    base = read_catalogue(root, catalogue.layout, labelled=True)
    context.log.info(f"Read {len(base)} labelled products from {root}")

    batches, unreadable = {}, {}
    scan = scan_landing(landing.root(), catalogue.y_file)
    for name in sorted(scan.labelled):
        try:
            batches[name] = read_catalogue(landing.root() / name, catalogue.layout, labelled=True)
        except CatalogueError as error:
            unreadable[name] = str(error)
            context.log.warning(f"Labelled batch {name} left out of training: {error}")
    products, repeated = combine_catalogues(base, batches)
    if len(repeated):
        context.log.warning(f"{len(repeated)} batch rows left out: productid already present")

    return Output(
        products,
        metadata={
            "data folder": MetadataValue.path(str(root)),
            "built-in sample": catalogue.is_builtin,
            "products": len(products),
            "products from labelled batches": len(products) - len(base),
            "labelled batches": len(batches),
            "batches left out": markdown_table(
                pd.DataFrame(list(unreadable.items()), columns=["batch", "reason"])
            ),
            "rows left out": len(repeated),
            "classes": int(products[LABEL_COLUMN].nunique()),
            "empty descriptions": int((products["description"].str.strip() == "").sum()),
            "rows per prdtypecode": counts_table(products[LABEL_COLUMN], LABEL_COLUMN),
            "preview": markdown_table(products.head(5), index=True),
        },
    )


class SplitConfig(Config):
    """Shares of each class held out for validation and test."""

    validation_fraction: float = Field(default=0.15, gt=0, lt=1)
    test_fraction: float = Field(default=0.15, gt=0, lt=1)
    seed: int = Field(default=42, description="Same seed and catalogue give the same split.")


@asset(group_name=GROUP, io_manager_key="table_io_manager")
def split_sets(config: SplitConfig, raw_catalogue: pd.DataFrame) -> Output[pd.DataFrame]:
    """The catalogue with each product assigned to train, validation or test, class by class."""
    split = split_catalogue(
        raw_catalogue[LABEL_COLUMN],
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
    )
    table = raw_catalogue.assign(split=split)

    per_class = pd.crosstab(table[LABEL_COLUMN], table["split"]).reindex(columns=list(SPLITS))
    return Output(
        table,
        metadata={
            **{f"{name} rows": int((split == name).sum()) for name in SPLITS},
            "rows per class and set": markdown_table(per_class.fillna(0).astype(int), index=True),
            "seed": config.seed,
        },
    )


@asset_check(
    asset=split_sets, additional_ins={"raw_catalogue": AssetIn("raw_catalogue")}, blocking=True
)
def split_sets_cover_catalogue_once(
    split_sets: pd.DataFrame, raw_catalogue: pd.DataFrame
) -> AssetCheckResult:
    """Every product of the catalogue is in exactly one of train, validation and test, and each
    set is used."""
    unknown = int((~split_sets["split"].isin(SPLITS)).sum())
    repeated = int(split_sets.index.duplicated().sum())
    missing = len(raw_catalogue.index.difference(split_sets.index))
    counts = split_sets["split"].value_counts()
    empty = [name for name in SPLITS if counts.get(name, 0) == 0]
    return AssetCheckResult(
        passed=unknown == 0 and repeated == 0 and missing == 0 and not empty,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "rows without a set": unknown,
            "catalogue rows missing from the sets": missing,
            "repeated rows": repeated,
            "empty sets": str(empty),
        },
    )
