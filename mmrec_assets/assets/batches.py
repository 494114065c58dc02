"""Per-batch assets: each landed batch of products, preprocessed and predicted on its own."""

import json

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
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
BATCH_TEXT = "batch_text"
BATCH_IMAGES = "batch_images"
BATCH_PREDICTIONS = "batch_predictions"
FUSED_MODEL_INFO = "fused_model"


def current_model_settings(storage: StorageFolder, catalogue: CatalogueSource) -> dict:
    """Image size and token cap of the current fused model, without loading Keras.

    Before any model exists, the defaults are used; prediction redoes the preprocessing if a
    later model was trained with other settings.
    """
    store = storage.store()
    if store.exists(FUSED_MODEL_INFO):
        info = json.loads((store.current_path(FUSED_MODEL_INFO) / INFO_FILE).read_text())
        return {"image_size": info["info"]["image_size"], "max_tokens": info["info"]["max_tokens"]}
    return {"image_size": catalogue.default_image_size, "max_tokens": DEFAULT_MAX_TOKENS}


@asset(partitions_def=batch_partitions, group_name=GROUP, io_manager_key="table_io_manager")
def batch_products(
    context: AssetExecutionContext, landing: LandingFolder, catalogue: CatalogueSource
) -> Output[pd.DataFrame]:
    """The products of one landed batch, with their prdtypecode when the batch is labelled."""
    folder = landing.root() / context.partition_key
    labelled = (folder / catalogue.y_file).is_file()
    products = read_catalogue(folder, catalogue.layout, labelled=labelled)
    metadata = {
        "batch folder": MetadataValue.path(str(folder)),
        "products": len(products),
        "labelled": labelled,
        "empty descriptions": int((products["description"].str.strip() == "").sum()),
    }
    if labelled:
        metadata["rows per prdtypecode"] = counts_table(products[LABEL_COLUMN], LABEL_COLUMN)
    return Output(products, metadata=metadata)


@asset(partitions_def=batch_partitions, group_name=GROUP, io_manager_key="table_io_manager")
def batch_text(
    batch_products: pd.DataFrame, storage: StorageFolder, catalogue: CatalogueSource
) -> Output[pd.DataFrame]:
    """The batch's product text preprocessed as the current fused model expects it."""
    max_tokens = current_model_settings(storage, catalogue)["max_tokens"]
    texts = preprocess_texts(
        batch_products["designation"], batch_products["description"], max_tokens
    )
    table = batch_products[["productid", "imageid"]].assign(text=texts)
    table.attrs["max_tokens"] = max_tokens
    empty = int((table["text"] == "").sum())
    return Output(
        table,
        metadata={"rows": len(table), "rows with no text left": empty, "max tokens": max_tokens},
    )


@asset(
    partitions_def=batch_partitions,
    group_name=GROUP,
    deps=["batch_products"],
)
def batch_images(
    context: AssetExecutionContext, storage: StorageFolder, catalogue: CatalogueSource
) -> MaterializeResult:
    """The batch's photos decoded and resized for the current fused model, rejections counted."""
    from mmrec_assets.ml.images import iter_image_chunks

    store = storage.store()
    key = context.partition_key
    products = pd.read_parquet(
        store.current_path(partition_artifact("batch_products", key)) / TABLE_FILE
    )
    size = current_model_settings(storage, catalogue)["image_size"]

    reasons: list[str] = []
    with store.write(partition_artifact(BATCH_IMAGES, key), tag=context.run_id) as folder:
        pixels = np.lib.format.open_memmap(
            folder / PIXELS_FILE, mode="w+", dtype=np.uint8, shape=(len(products), size, size, 3)
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
    return MaterializeResult(
        metadata={
            "photos": len(manifest),
            "rejected photos": len(rejected),
            "rejected rows": markdown_table(rejected.head(20), index=True),
            "image size": size,
        }
    )


@asset(
    partitions_def=batch_partitions,
    group_name=GROUP,
    deps=[BATCH_TEXT, BATCH_IMAGES],
    backfill_policy=BackfillPolicy.single_run(),
)
def batch_predictions(
    context: AssetExecutionContext,
    fused_model,
    storage: StorageFolder,
) -> MaterializeResult:
    """Predicted prdtypecode, probability, top 3 and model version for each product of a batch."""
    from mmrec_assets.ml.predict import ProductClassifier

    store = storage.store()
    version = fused_model.info.get("version", "")
    classifier = ProductClassifier(fused_model, version=version)
    keys = context.partition_keys
    context.log.info(f"Predicting {len(keys)} batch(es) with fused model {version}")

    summaries = []
    for key in keys:
        predictions = predict_batch(classifier, store, key)
        with store.write(partition_artifact(BATCH_PREDICTIONS, key), tag=context.run_id) as out:
            predictions.to_parquet(out / TABLE_FILE)
        summaries.append(
            {
                "batch": key,
                "products": len(predictions),
                "one branch only": int((predictions["source"] != "text+image").sum()),
            }
        )
        last = predictions

    metadata = {
        "batches": len(keys),
        "products": int(sum(row["products"] for row in summaries)),
        "model version": version,
        "per batch": markdown_table(pd.DataFrame(summaries)),
    }
    if len(keys) == 1:
        metadata["path"] = MetadataValue.path(
            str(store.current_path(partition_artifact(BATCH_PREDICTIONS, keys[0])))
        )
        metadata["predictions per prdtypecode"] = counts_table(
            last["predicted_prdtypecode"], "prdtypecode"
        )
        metadata["predictions by source"] = counts_table(last["source"], "source")
        metadata["preview"] = markdown_table(last.head(10), index=True)
    return MaterializeResult(metadata=metadata)


def predict_batch(classifier, store, key: str) -> pd.DataFrame:
    """Predict one batch from its stored text and photos, redoing preprocessing that no longer
    matches the model (a model retrained with another image size or token cap)."""
    text_table = pd.read_parquet(
        store.current_path(partition_artifact(BATCH_TEXT, key)) / TABLE_FILE
    )
    images = store.current_path(partition_artifact(BATCH_IMAGES, key))
    manifest = pd.read_parquet(images / MANIFEST_FILE)
    pixels = np.load(images / PIXELS_FILE, mmap_mode="r")

    if text_table.attrs.get("max_tokens") != classifier.max_tokens:
        products = pd.read_parquet(
            store.current_path(partition_artifact("batch_products", key)) / TABLE_FILE
        )
        texts = classifier.preprocess_texts(products)
    else:
        texts = text_table["text"].to_numpy(dtype=object)

    if pixels.shape[1] != classifier.image_size:
        products = pd.read_parquet(
            store.current_path(partition_artifact("batch_products", key)) / TABLE_FILE
        )
        return classifier.predict(products)
    return classifier.predict_prepared(
        text_table, texts, pixels, manifest["rejection_reason"].tolist()
    )
