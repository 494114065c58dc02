"""Text and photos turned into what the two branches learn from."""

import json
import time

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)
from pydantic import Field

from mmrec_assets.assets.tables import counts_table, markdown_table
from mmrec_assets.ml.feature_files import (
    ENCODER_FILE,
    ENCODER_INFO_FILE,
    FEATURES_FILE,
    MANIFEST_FILE,
    PIXELS_FILE,
)
from mmrec_assets.ml.text import DEFAULT_MAX_TOKENS, preprocess_texts
from mmrec_assets.resources import CatalogueSource, StorageFolder

GROUP = "preprocessing"
PREPROCESSED_IMAGES = "preprocessed_images"
IMAGE_FEATURES = "image_features"
MAX_REJECTED_SHARE = 0.05


class TextPreprocessingConfig(Config):
    """How product text is cut down to stems."""

    max_tokens: int = Field(
        default=DEFAULT_MAX_TOKENS, ge=1, description="Stems kept per product, designation first."
    )


@asset(group_name=GROUP, io_manager_key="table_io_manager")
def preprocessed_text(
    context: AssetExecutionContext, config: TextPreprocessingConfig, split_sets: pd.DataFrame
) -> Output[pd.DataFrame]:
    """Designation and description of each product, HTML-free, without stop words, stemmed."""
    started = time.perf_counter()
    texts = preprocess_texts(
        split_sets["designation"], split_sets["description"], config.max_tokens
    )
    seconds = time.perf_counter() - started

    table = split_sets[["split", "prdtypecode"]].assign(text=texts)
    table["tokens"] = table["text"].str.split().str.len().fillna(0).astype(int)
    # The cap travels with the table so that prediction applies the same preprocessing.
    table.attrs["max_tokens"] = config.max_tokens
    empty = int((table["tokens"] == 0).sum())
    if empty:
        context.log.warning(f"{empty} products have no text left after preprocessing")

    preview = split_sets[["designation"]].join(table[["text"]]).head(8)
    return Output(
        table,
        metadata={
            "rows": len(table),
            "rows per second": round(len(table) / max(seconds, 1e-9)),
            "mean tokens per row": round(float(table["tokens"].mean()), 1),
            "rows with no text left": empty,
            "max tokens": config.max_tokens,
            "preview": markdown_table(preview, index=True),
        },
    )


class ImageFeaturesConfig(Config):
    """How photos are decoded and which VGG16 weights encode them."""

    image_size: int | None = Field(
        default=None,
        ge=32,
        description="Side of the square photos in pixels; empty picks 224 for a real catalogue "
        "and 64 for the built-in sample.",
    )
    weights: str = Field(
        default="auto",
        description="VGG16 weights: 'imagenet' (fail if unavailable), 'auto' (ImageNet when "
        "available, else random initialisation with a warning), 'none', or a weights file path.",
    )
    chunk_size: int = Field(default=64, ge=1, description="Photos decoded and encoded together.")
    decode_workers: int = Field(default=2, ge=1, description="Threads decoding photos.")
    seed: int = Field(default=0, description="Seed of a random initialisation.")


@multi_asset(
    group_name=GROUP,
    ins={"split_sets": AssetIn()},
    specs=[
        AssetSpec(
            PREPROCESSED_IMAGES,
            deps=["split_sets"],
            description="Every product photo decoded to RGB and resized, with rejected ones "
            "counted and their reasons.",
        ),
        AssetSpec(
            IMAGE_FEATURES,
            deps=["split_sets"],
            description="The frozen VGG16 conv base's 512-d features of every decodable photo, "
            "computed in one pass.",
        ),
    ],
    check_specs=[
        AssetCheckSpec(
            "few_rejected_photos",
            asset=PREPROCESSED_IMAGES,
            description=f"At most {MAX_REJECTED_SHARE:.0%} of photos are missing or undecodable.",
        )
    ],
)
def image_features_and_pixels(
    context: AssetExecutionContext,
    config: ImageFeaturesConfig,
    split_sets: pd.DataFrame,
    catalogue: CatalogueSource,
    storage: StorageFolder,
):
    """Decode each photo once and run the VGG16 conv base on it once, storing both results."""
    from mmrec_assets.ml.features import build_encoder, extract_features

    store = storage.store()
    size = config.image_size or catalogue.default_image_size
    encoder = build_encoder(size, config.weights, seed=config.seed)
    if encoder.warning:
        context.log.warning(encoder.warning)

    paths = split_sets["image_path"].tolist()
    context.log.info(f"Encoding {len(paths)} photos at {size}x{size} px ({encoder.weights_source})")
    progress = _progress_logger(context)

    with (
        store.write(PREPROCESSED_IMAGES, tag=context.run_id) as pixels_folder,
        store.write(IMAGE_FEATURES, tag=context.run_id) as features_folder,
        open(pixels_folder / PIXELS_FILE, "wb") as pixels_out,
        open(features_folder / FEATURES_FILE, "wb") as features_out,
    ):
        report = extract_features(
            encoder.model,
            paths,
            size,
            pixels_out,
            features_out,
            chunk_size=config.chunk_size,
            workers=config.decode_workers,
            progress=progress,
        )
        manifest = split_sets[["split", "image_path"]].assign(rejection_reason=report.reasons)
        manifest.to_parquet(pixels_folder / MANIFEST_FILE)
        manifest.to_parquet(features_folder / MANIFEST_FILE)
        encoder.model.save(features_folder / ENCODER_FILE)
        encoder_info = {
            "image_size": size,
            "weights_source": encoder.weights_source,
            "weights_warning": encoder.warning,
        }
        (features_folder / ENCODER_INFO_FILE).write_text(json.dumps(encoder_info, indent=2))

    context.log.info(
        f"Encoded {report.images - report.rejected} photos in {report.seconds:.1f} s "
        f"({report.images_per_second:.1f} photos/s); {report.rejected} rejected"
    )
    rejected = manifest[manifest["rejection_reason"] != ""]
    if len(rejected):
        context.log.warning(
            f"{len(rejected)} photos rejected and left out of image training, e.g. "
            f"{rejected['image_path'].iloc[0]}: {rejected['rejection_reason'].iloc[0]}"
        )
    share = len(rejected) / max(len(manifest), 1)

    yield MaterializeResult(
        asset_key=PREPROCESSED_IMAGES,
        metadata={
            "path": MetadataValue.path(str(store.current_path(PREPROCESSED_IMAGES))),
            "photos": len(manifest),
            "rejected photos": len(rejected),
            "rejections by reason": counts_table(
                rejected["rejection_reason"].str.split(":").str[0], "reason"
            ),
            "rejected rows": markdown_table(rejected.head(20), index=True),
            "image size": size,
            "pixels file size (MB)": round(
                (store.current_path(PREPROCESSED_IMAGES) / PIXELS_FILE).stat().st_size / 1e6, 1
            ),
        },
    )
    yield AssetCheckResult(
        asset_key=PREPROCESSED_IMAGES,
        check_name="few_rejected_photos",
        passed=share <= MAX_REJECTED_SHARE,
        severity=AssetCheckSeverity.WARN,
        metadata={"rejected share": round(share, 4)},
    )
    yield MaterializeResult(
        asset_key=IMAGE_FEATURES,
        metadata={
            "path": MetadataValue.path(str(store.current_path(IMAGE_FEATURES))),
            "conv base calls (photos through VGG16)": report.conv_base_images,
            "photos per second": round(report.images_per_second, 1),
            "weights": encoder.weights_source,
            "pretrained weights": encoder.pretrained,
            "weights warning": encoder.warning or "",
            "features shape": f"{len(manifest)} x 512",
        },
    )


def _progress_logger(context: AssetExecutionContext):
    """Log progress about every tenth of the work, and at the end."""
    state = {"next": 0.1}

    def log(done: int, total: int, rate: float) -> None:
        if done >= total or done / total >= state["next"]:
            context.log.info(f"Photos {done}/{total} ({rate:.1f}/s)")
            state["next"] = done / total + 0.1

    return log


def stored_features(storage: StorageFolder):
    """The stored features, read for the training and evaluation steps."""
    from mmrec_assets.ml.feature_files import read_features

    return read_features(storage.store().current_path(IMAGE_FEATURES))
