"""Predictions of the fused model for products that have no label yet."""

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from mmrec_assets.assets.tables import counts_table, markdown_table
from mmrec_assets.resources import CatalogueSource, StorageFolder

GROUP = "inference"


@asset(group_name=GROUP, io_manager_key="table_io_manager")
def product_predictions(
    context: AssetExecutionContext,
    fused_model,
    catalogue: CatalogueSource,
    storage: StorageFolder,
) -> Output[pd.DataFrame]:
    """Predicted prdtypecode, its probability and the top 3 for every unlabelled product."""
    from mmrec_assets.ml.catalogue import read_catalogue
    from mmrec_assets.ml.predict import ProductClassifier

    folder = catalogue.unlabelled_root(storage)
    if not folder.exists():
        context.log.warning(f"No unlabelled products at {folder}: the predictions are empty")
        products = pd.DataFrame(
            columns=["designation", "description", "productid", "imageid", "image_path"]
        )
    else:
        products = read_catalogue(folder, catalogue.layout, labelled=False)

    classifier = ProductClassifier(fused_model, version=fused_model.info.get("version", ""))
    predictions = classifier.predict(products)
    context.log.info(f"Predicted {len(predictions)} products from {folder}")
    not_both = predictions[predictions["source"] != "text+image"]
    if len(not_both):
        context.log.warning(
            f"{len(not_both)} products were predicted from one branch only (see 'source')"
        )

    return Output(
        predictions,
        metadata={
            "products folder": MetadataValue.path(str(folder)),
            "products": len(predictions),
            "model version": classifier.version,
            "predictions per prdtypecode": counts_table(
                predictions["predicted_prdtypecode"], "prdtypecode"
            ),
            "predictions by source": counts_table(predictions["source"], "source"),
            "preview": markdown_table(predictions.head(10), index=True),
        },
    )
