"""The text branch, the image branch and their fusion."""

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from mmrec_assets.assets.preprocessing import IMAGE_FEATURES, stored_features
from mmrec_assets.assets.tables import markdown_table
from mmrec_assets.ml.catalogue import LABEL_COLUMN
from mmrec_assets.resources import StorageFolder

GROUP = "training"


def class_codes_of(split_sets: pd.DataFrame) -> list[int]:
    """Output column order shared by every model: the catalogue's prdtypecodes, ascending."""
    return sorted(int(code) for code in split_sets[LABEL_COLUMN].unique())


def class_indices(codes: pd.Series, class_codes: list[int]) -> np.ndarray:
    """Each prdtypecode's output column."""
    position = {code: index for index, code in enumerate(class_codes)}
    return codes.map(position).to_numpy(dtype=np.int64)


class FitConfig(Config):
    """Settings shared by both branches' training."""

    epochs: int = Field(default=15, ge=1)
    batch_size: int = Field(default=64, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0)
    patience: int = Field(default=3, ge=1, description="Epochs without validation improvement.")
    seed: int = 0

    def settings(self):
        from mmrec_assets.ml.training import FitSettings

        return FitSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            patience=self.patience,
            seed=self.seed,
        )


class TextModelConfig(FitConfig):
    """Sizes and training of the embedding + LSTM text branch."""

    epochs: int = Field(default=40, ge=1)
    learning_rate: float = Field(default=2e-3, gt=0)
    patience: int = Field(default=4, ge=1)
    vocabulary_size: int = Field(default=20_000, ge=2)
    sequence_length: int = Field(default=80, ge=1, description="Stems read per product.")
    embedding_dim: int = Field(default=64, ge=1)
    lstm_units: int = Field(default=64, ge=1)
    dropout: float = Field(default=0.3, ge=0, lt=1)


@asset(group_name=GROUP, io_manager_key="model_io_manager")
def text_lstm_model(
    context: AssetExecutionContext, config: TextModelConfig, preprocessed_text: pd.DataFrame
):
    """Embedding + LSTM classifier from preprocessed product text to prdtypecode probabilities."""
    from mmrec_assets.ml.bundle import ModelBundle
    from mmrec_assets.ml.text_model import TextModelSettings, train_text_model

    class_codes = class_codes_of(preprocessed_text)
    train = preprocessed_text[preprocessed_text["split"] == "train"]
    validation = preprocessed_text[preprocessed_text["split"] == "validation"]
    settings = TextModelSettings(
        vocabulary_size=config.vocabulary_size,
        sequence_length=config.sequence_length,
        embedding_dim=config.embedding_dim,
        lstm_units=config.lstm_units,
        dropout=config.dropout,
    )
    context.log.info(f"Training the text branch on {len(train)} products")
    model, history = train_text_model(
        train["text"].to_numpy(),
        class_indices(train[LABEL_COLUMN], class_codes),
        validation["text"].to_numpy(),
        class_indices(validation[LABEL_COLUMN], class_codes),
        len(class_codes),
        settings,
        config.settings(),
    )
    best = min(history, key=lambda row: row["val_loss"])
    context.log.info(f"Text branch: validation accuracy {best['val_accuracy']:.3f}")

    info = {
        "max_tokens": int(preprocessed_text.attrs.get("max_tokens", 0)) or None,
        "settings": config.model_dump(),
        "best_epoch": best["epoch"],
        "validation_accuracy": best["val_accuracy"],
    }
    return Output(
        ModelBundle(model=model, class_codes=class_codes, info=info),
        metadata={
            "validation accuracy": round(best["val_accuracy"], 4),
            "best epoch": best["epoch"],
            "epochs run": len(history),
            "vocabulary size": int(model.get_layer("text_vectorization").vocabulary_size()),
            "parameters": int(model.count_params()),
            "training curve": markdown_table(pd.DataFrame(history).round(4)),
            "train rows": len(train),
        },
    )


class ImageModelConfig(FitConfig):
    """Size and training of the head on top of the VGG16 features."""

    epochs: int = Field(default=60, ge=1)
    patience: int = Field(default=6, ge=1)
    hidden_units: int = Field(default=256, ge=1)
    dropout: float = Field(default=0.3, ge=0, lt=1)


@asset(
    group_name=GROUP,
    io_manager_key="model_io_manager",
    deps=[IMAGE_FEATURES],
    check_specs=[
        AssetCheckSpec(
            "uses_pretrained_weights",
            asset="image_vgg16_model",
            description="The VGG16 conv base carries pretrained ImageNet weights.",
        )
    ],
)
def image_vgg16_model(
    context: AssetExecutionContext,
    config: ImageModelConfig,
    split_sets: pd.DataFrame,
    storage: StorageFolder,
):
    """Frozen VGG16 conv base and a trained head, from photo pixels to prdtypecode probabilities."""
    from mmrec_assets.ml.bundle import ModelBundle
    from mmrec_assets.ml.feature_files import load_encoder
    from mmrec_assets.ml.features import ConvBaseCounter
    from mmrec_assets.ml.image_model import (
        ImageHeadSettings,
        assemble_image_model,
        train_image_head,
    )

    conv_base_images_before = ConvBaseCounter.images
    class_codes = class_codes_of(split_sets)
    stored = stored_features(storage)
    labels = split_sets[LABEL_COLUMN]
    train_rows, train_features = stored.usable("train")
    validation_rows, validation_features = stored.usable("validation")
    context.log.info(f"Training the image head on the stored features of {len(train_rows)} photos")

    head, history = train_image_head(
        train_features,
        class_indices(labels.loc[train_rows], class_codes),
        validation_features,
        class_indices(labels.loc[validation_rows], class_codes),
        len(class_codes),
        ImageHeadSettings(hidden_units=config.hidden_units, dropout=config.dropout),
        config.settings(),
    )
    best = min(history, key=lambda row: row["val_loss"])
    context.log.info(f"Image branch: validation accuracy {best['val_accuracy']:.3f}")
    encoder = load_encoder(storage.store().current_path(IMAGE_FEATURES))
    model = assemble_image_model(encoder, head)

    warning = stored.encoder_info["weights_warning"]
    if warning:
        context.log.warning(warning)
    info = {
        **stored.encoder_info,
        "settings": config.model_dump(),
        "best_epoch": best["epoch"],
        "validation_accuracy": best["val_accuracy"],
    }
    yield Output(
        ModelBundle(model=model, class_codes=class_codes, info=info),
        metadata={
            "validation accuracy": round(best["val_accuracy"], 4),
            "best epoch": best["epoch"],
            "epochs run": len(history),
            "weights": stored.encoder_info["weights_source"],
            "pretrained weights": warning is None,
            "weights warning": warning or "",
            "VGG16 conv base calls in this step (photos)": ConvBaseCounter.images
            - conv_base_images_before,
            "train photos": len(train_rows),
            "training curve": markdown_table(pd.DataFrame(history).round(4)),
        },
    )
    yield AssetCheckResult(
        check_name="uses_pretrained_weights",
        passed=warning is None,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "weights": stored.encoder_info["weights_source"],
            "warning": MetadataValue.text(warning or ""),
        },
    )


class FusionConfig(Config):
    """How the fusion weight is searched on the validation set."""

    weight_steps: int = Field(default=21, ge=2, description="Candidate text weights from 0 to 1.")


@asset(
    group_name=GROUP,
    io_manager_key="model_io_manager",
    deps=[IMAGE_FEATURES],
    check_specs=[
        AssetCheckSpec(
            "not_worse_than_better_branch",
            asset="fused_model",
            description="On validation, the fused model's weighted F1 is at least the better "
            "branch's.",
        )
    ],
)
def fused_model(
    context: AssetExecutionContext,
    config: FusionConfig,
    text_lstm_model,
    image_vgg16_model,
    preprocessed_text: pd.DataFrame,
    storage: StorageFolder,
):
    """Both branches in one model, their probabilities mixed with a weight learned on validation."""
    from mmrec_assets.ml.bundle import ModelBundle
    from mmrec_assets.ml.fusion import build_fused_model, fit_fusion
    from mmrec_assets.ml.image_model import image_head
    from mmrec_assets.ml.text_model import predict_text

    if text_lstm_model.class_codes != image_vgg16_model.class_codes:
        raise ValueError(
            "The text and image branches order their classes differently: "
            f"{text_lstm_model.class_codes} vs {image_vgg16_model.class_codes}"
        )
    class_codes = text_lstm_model.class_codes
    rows, features = stored_features(storage).usable("validation")
    texts = preprocessed_text.loc[rows, "text"].to_numpy()
    labels = class_indices(preprocessed_text.loc[rows, LABEL_COLUMN], class_codes)

    fit = fit_fusion(
        predict_text(text_lstm_model.model, texts),
        np.asarray(image_head(image_vgg16_model.model).predict(features, verbose=0)),
        labels,
        steps=config.weight_steps,
    )
    context.log.info(
        f"Fusion: text weight {fit.text_weight:.2f}; validation weighted F1 "
        f"text {fit.validation['text']['weighted_f1']:.3f}, "
        f"image {fit.validation['image']['weighted_f1']:.3f}, "
        f"fused {fit.validation['fused']['weighted_f1']:.3f}"
    )
    model = build_fused_model(text_lstm_model.model, image_vgg16_model.model, fit.text_weight)

    info = {
        "text_weight": fit.text_weight,
        "image_weight": 1.0 - fit.text_weight,
        "validation": fit.validation,
        "image_size": image_vgg16_model.info["image_size"],
        "max_tokens": text_lstm_model.info["max_tokens"],
        "weights_source": image_vgg16_model.info["weights_source"],
        "text_model_version": text_lstm_model.info.get("version"),
        "image_model_version": image_vgg16_model.info.get("version"),
    }
    scores = pd.DataFrame(fit.validation).T.round(4).rename_axis("model")
    yield Output(
        ModelBundle(model=model, class_codes=class_codes, info=info),
        metadata={
            "text weight": fit.text_weight,
            "image weight": round(1.0 - fit.text_weight, 4),
            "validation rows": len(rows),
            "validation scores": markdown_table(scores, index=True),
            "fused validation weighted F1": round(fit.validation["fused"]["weighted_f1"], 4),
            "weighted F1 by text weight": markdown_table(
                pd.DataFrame(fit.curve, columns=["text weight", "weighted F1"]).round(4)
            ),
        },
    )
    better = max(fit.validation["text"]["weighted_f1"], fit.validation["image"]["weighted_f1"])
    yield AssetCheckResult(
        check_name="not_worse_than_better_branch",
        passed=fit.validation["fused"]["weighted_f1"] >= better - 1e-9,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "fused weighted F1": fit.validation["fused"]["weighted_f1"],
            "better branch weighted F1": better,
        },
    )
