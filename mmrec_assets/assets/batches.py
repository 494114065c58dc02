"""Per-batch assets: each landed batch of products, preprocessed and predicted.

Every asset here is partitioned by batch and handles all the partitions of its run in one go,
so the sensor's runs cover one batch each while a backfill covers many batches in a single run
(the fused model is then loaded once). Tables travel as dicts from batch name to table.
"""

import json
import warnings

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    BetaWarning,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
)

from mmrec_assets.assets.tables import counts_table, markdown_table
from mmrec_assets.io_managers import TABLE_FILE, partition_artifact
from mmrec_assets.ml.bundle import INFO_FILE
from mmrec_assets.ml.catalogue import LABEL_COLUMN, read_catalogue
from mmrec_assets.ml.feature_files import MANIFEST_FILE, PIXELS_FILE
from mmrec_assets.ml.text import DEFAULT_MAX_TOKENS, preprocess_texts
from mmrec_assets.partitions import batch_partitions
from mmrec_assets.resources import CatalogueSource, LandingFolder, StorageFolder

GROUP = "batches"
BATCH_IMAGES = "batch_images"
BATCH_PREDICTIONS = "batch_predictions"
FUSED_MODEL = "fused_model"

# Single-run backfill policies are what make one run cover many batches; Dagster marks the
# parameter as beta and would say so at every load of the code location.
warnings.filterwarnings("ignore", message=".*`backfill_policy`.*", category=BetaWarning)

per_batch = {
    "partitions_def": batch_partitions,
    "group_name": GROUP,
    "backfill_policy": BackfillPolicy.single_run(),
}


def current_model_settings(storage: StorageFolder, catalogue: CatalogueSource) -> dict:
    """Image size and token cap of the current fused model, without loading Keras.

    Before any model exists, the defaults are used; prediction redoes the preprocessing if a
    later model was trained with other settings.
    """
    store = storage.store()
    if store.exists(FUSED_MODEL):
        info = json.loads((store.current_path(FUSED_MODEL) / INFO_FILE).read_text())["info"]
        return {"image_size": info["image_size"], "max_tokens": info["max_tokens"]}
    return {"image_size": catalogue.default_image_size, "max_tokens": DEFAULT_MAX_TOKENS}


def batch_metadata(rows: list[dict], details: dict) -> dict:
    """Metadata of a run over batches: the details of a lone batch, or a table of all of them."""
    if len(rows) == 1:
        return {**rows[0], **details}
    table = pd.DataFrame(rows)
    totals = table.select_dtypes("number").sum().astype(int).to_dict()
    return {"batches": len(rows), **totals, "per batch": markdown_table(table)}


@asset(**per_batch, io_manager_key="table_io_manager")
def batch_products(
    context: AssetExecutionContext, landing: LandingFolder, catalogue: CatalogueSource
) -> Output[dict]:
    """The products of each landed batch, with their prdtypecode when the batch is labelled."""
    tables, rows = {}, []
    for key in context.partition_keys:
        folder = landing.root() / key
        labelled = (folder / catalogue.y_file).is_file()
        tables[key] = read_catalogue(folder, catalogue.layout, labelled=labelled)
        rows.append({"batch": key, "products": len(tables[key]), "labelled": int(labelled)})

    details = {}
    if len(tables) == 1:
        products = next(iter(tables.values()))
        details = {
            "batch folder": MetadataValue.path(str(landing.root() / context.partition_keys[0])),
            "empty descriptions": int((products["description"].str.strip() == "").sum()),
        }
        if LABEL_COLUMN in products:
            details["rows per prdtypecode"] = counts_table(products[LABEL_COLUMN], LABEL_COLUMN)
    return Output(tables, metadata=batch_metadata(rows, details))


@asset(**per_batch, io_manager_key="table_io_manager")
def batch_text(
    batch_products: dict, storage: StorageFolder, catalogue: CatalogueSource
) -> Output[dict]:
    """Each batch's product text preprocessed as the current fused model expects it."""
    max_tokens = current_model_settings(storage, catalogue)["max_tokens"]
    tables, rows = {}, []
    for key, products in batch_products.items():
        texts = preprocess_texts(products["designation"], products["description"], max_tokens)
        table = products[["productid", "imageid"]].assign(text=texts)
        table.attrs["max_tokens"] = max_tokens
        tables[key] = table
        rows.append(
            {
                "batch": key,
                "rows": len(table),
                "rows with no text left": int((table["text"] == "").sum()),
            }
        )
    return Output(tables, metadata=batch_metadata(rows, {"max tokens": max_tokens}))


@asset(**per_batch)
def batch_images(
    context: AssetExecutionContext,
    batch_products: dict,
    storage: StorageFolder,
    catalogue: CatalogueSource,
) -> MaterializeResult:
    """Each batch's photos decoded and resized for the current fused model, rejections counted."""
    from mmrec_assets.ml.images import iter_image_chunks

    store = storage.store()
    size = current_model_settings(storage, catalogue)["image_size"]
    rows, rejected_rows = [], []
    for key, products in batch_products.items():
        reasons: list[str] = []
        with store.write(partition_artifact(BATCH_IMAGES, key), tag=context.run_id) as folder:
            pixels = np.lib.format.open_memmap(
                folder / PIXELS_FILE,
                mode="w+",
                dtype=np.uint8,
                shape=(len(products), size, size, 3),
            )
            for chunk in iter_image_chunks(products["image_path"].tolist(), size):
                pixels[chunk.start : chunk.start + len(chunk.ok)] = chunk.pixels
                reasons.extend(chunk.reasons)
            pixels.flush()
            del pixels
            manifest = products[["image_path"]].assign(rejection_reason=reasons)
            manifest.to_parquet(folder / MANIFEST_FILE)

        rejected = manifest[manifest["rejection_reason"] != ""]
        if len(rejected):
            context.log.warning(f"{len(rejected)} photos of batch {key} are unusable")
        rejected_rows.append(rejected.assign(batch=key))
        rows.append({"batch": key, "photos": len(manifest), "rejected photos": len(rejected)})

    rejected = pd.concat(rejected_rows)
    details = {"image size": size, "rejected rows": markdown_table(rejected.head(20), index=True)}
    return MaterializeResult(metadata=batch_metadata(rows, details))


@asset(**per_batch, deps=[BATCH_IMAGES])
def batch_predictions(
    context: AssetExecutionContext,
    fused_model,
    batch_products: dict,
    batch_text: dict,
    storage: StorageFolder,
) -> MaterializeResult:
    """Predicted prdtypecode, probability, top 3 and model version for each product of a batch."""
    from mmrec_assets.ml.predict import ProductClassifier

    store = storage.store()
    version = fused_model.info.get("version", "")
    classifier = ProductClassifier(fused_model, version=version)
    context.log.info(f"Predicting {len(batch_text)} batch(es) with fused model {version}")

    rows = []
    for key, text_table in batch_text.items():
        predictions = predict_batch(classifier, store, batch_products[key], text_table, key)
        with store.write(partition_artifact(BATCH_PREDICTIONS, key), tag=context.run_id) as out:
            predictions.to_parquet(out / TABLE_FILE)
        one_branch = int((predictions["source"] != "text+image").sum())
        rows.append({"batch": key, "products": len(predictions), "one branch only": one_branch})

    details = {
        "path": MetadataValue.path(
            str(store.current_path(partition_artifact(BATCH_PREDICTIONS, rows[0]["batch"])))
        ),
        "predictions per prdtypecode": counts_table(
            predictions["predicted_prdtypecode"], "prdtypecode"
        ),
        "predictions by source": counts_table(predictions["source"], "source"),
        "preview": markdown_table(predictions.head(10), index=True),
    }
    return MaterializeResult(metadata={"model version": version, **batch_metadata(rows, details)})


def predict_batch(
    classifier, store, products: pd.DataFrame, text_table: pd.DataFrame, key: str
) -> pd.DataFrame:
    """Predict one batch from its stored text and photos.

    Preprocessing that no longer matches the model (one retrained with another image size or
    token cap) is done again from the batch's products.
    """
    images = store.current_path(partition_artifact(BATCH_IMAGES, key))
    pixels = np.load(images / PIXELS_FILE, mmap_mode="r")
    if pixels.shape[1] != classifier.image_size:
        return classifier.predict(products)

    if text_table.attrs.get("max_tokens") == classifier.max_tokens:
        texts = text_table["text"].to_numpy(dtype=object)
    else:
        texts = classifier.preprocess_texts(products)
    problems = pd.read_parquet(images / MANIFEST_FILE)["rejection_reason"].tolist()
    return classifier.predict_prepared(text_table, texts, pixels, problems)
