"""The image branch: a small head trained on stored VGG16 features, then joined to the encoder.

Training touches only the stored 512-d features, so an extra epoch costs a pass over a small
matrix, never a pass of VGG16. The saved image model is the encoder followed by the head: decoded
pixels in, class probabilities out.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from mmrec_assets.ml.training import (
    FitSettings,
    balanced_class_weights,
    early_stopping,
    history_rows,
)

HEAD_NAME = "image_head"


@dataclass(frozen=True)
class ImageHeadSettings:
    """Size of the trainable head on top of the features."""

    hidden_units: int = 256
    dropout: float = 0.3


def build_image_head(
    train_features: np.ndarray, n_classes: int, settings: ImageHeadSettings = ImageHeadSettings()
) -> keras.Model:
    """A normalisation (fitted on the training features), a hidden layer and a softmax."""
    normalization = keras.layers.Normalization(name="feature_normalization")
    normalization.adapt(train_features)

    features = keras.Input(shape=(train_features.shape[1],), name="features")
    x = normalization(features)
    x = keras.layers.Dropout(settings.dropout)(x)
    x = keras.layers.Dense(settings.hidden_units, activation="relu", name="hidden")(x)
    x = keras.layers.Dropout(settings.dropout)(x)
    probabilities = keras.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(features, probabilities, name=HEAD_NAME)


def train_image_head(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    validation_features: np.ndarray,
    validation_labels: np.ndarray,
    n_classes: int,
    settings: ImageHeadSettings = ImageHeadSettings(),
    fit: FitSettings = FitSettings(epochs=40, patience=5),
) -> tuple[keras.Model, list[dict[str, float]]]:
    """Train the head on stored features with class weights and early stopping.

    Args:
        train_features: ``(n, 512)`` features of the training photos.
        train_labels: Class index of each training photo.
        validation_features: Features of the validation photos.
        validation_labels: Class index of each validation photo.
        n_classes: Number of output classes.
        settings: Size of the head.
        fit: Epochs, batch size, learning rate, patience and seed.

    Returns:
        The trained head (best validation epoch) and one row of metrics per epoch run.
    """
    keras.utils.set_random_seed(fit.seed)
    head = build_image_head(train_features, n_classes, settings)
    head.compile(
        optimizer=keras.optimizers.Adam(fit.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = head.fit(
        train_features,
        train_labels,
        validation_data=(validation_features, validation_labels),
        epochs=fit.epochs,
        batch_size=fit.batch_size,
        class_weight=balanced_class_weights(train_labels, n_classes),
        callbacks=[early_stopping(fit.patience)],
        shuffle=True,
        verbose=0,
    )
    return head, history_rows(history)


def assemble_image_model(encoder: keras.Model, head: keras.Model) -> keras.Model:
    """The full image branch: pixels through the frozen encoder, then the trained head."""
    pixels = keras.Input(shape=encoder.input_shape[1:], name="pixels")
    probabilities = head(encoder(pixels))
    return keras.Model(pixels, probabilities, name="image_vgg16")


def image_head(image_model: keras.Model) -> keras.Model:
    """The head inside a saved image model, to score stored features without running VGG16."""
    return image_model.get_layer(HEAD_NAME)
