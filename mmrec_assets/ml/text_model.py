"""The text branch: preprocessed text to class probabilities through an embedding and an LSTM.

The saved model takes the preprocessed text string (stems joined by spaces, as
:func:`mmrec_assets.ml.text.preprocess_text` returns it); the vocabulary lives inside the model in
a ``TextVectorization`` layer, so there is no tokenizer file to keep in step with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mmrec_assets.ml.training import (
    FitSettings,
    balanced_class_weights,
    early_stopping,
    history_rows,
)


@dataclass(frozen=True)
class TextModelSettings:
    """Size of the text branch."""

    vocabulary_size: int = 20_000
    sequence_length: int = 80
    embedding_dim: int = 64
    lstm_units: int = 64
    dropout: float = 0.3


def build_text_model(
    train_texts: np.ndarray, n_classes: int, settings: TextModelSettings = TextModelSettings()
) -> keras.Model:
    """Build the text branch with a vocabulary learned from the training texts.

    Args:
        train_texts: Preprocessed training texts; only these shape the vocabulary.
        n_classes: Number of output classes.
        settings: Sizes of the layers.

    Returns:
        An uncompiled model from a ``(n, 1)`` string tensor to ``(n, n_classes)`` probabilities.
    """
    vectorizer = keras.layers.TextVectorization(
        max_tokens=settings.vocabulary_size,
        output_sequence_length=settings.sequence_length,
        standardize=None,
        split="whitespace",
        name="text_vectorization",
    )
    vectorizer.adapt(
        tf.data.Dataset.from_tensor_slices(np.asarray(train_texts, dtype=str)).batch(1024)
    )

    texts = keras.Input(shape=(1,), dtype="string", name="text")
    x = vectorizer(texts)
    x = keras.layers.Embedding(
        vectorizer.vocabulary_size(), settings.embedding_dim, mask_zero=True, name="embedding"
    )(x)
    x = keras.layers.LSTM(settings.lstm_units, name="lstm")(x)
    x = keras.layers.Dropout(settings.dropout)(x)
    probabilities = keras.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(texts, probabilities, name="text_lstm")


def text_dataset(
    texts: np.ndarray, labels: np.ndarray | None, batch_size: int, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    """A batched ``tf.data`` pipeline of ``(n, 1)`` strings, with labels when given."""
    strings = np.asarray(texts, dtype=str).reshape(-1, 1)
    items = strings if labels is None else (strings, labels.astype(np.int32))
    dataset = tf.data.Dataset.from_tensor_slices(items)
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(strings), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def train_text_model(
    train_texts: np.ndarray,
    train_labels: np.ndarray,
    validation_texts: np.ndarray,
    validation_labels: np.ndarray,
    n_classes: int,
    settings: TextModelSettings = TextModelSettings(),
    fit: FitSettings = FitSettings(),
) -> tuple[keras.Model, list[dict[str, float]]]:
    """Train the text branch with class weights and early stopping on the validation set.

    Args:
        train_texts: Preprocessed training texts.
        train_labels: Class index of each training text.
        validation_texts: Preprocessed validation texts.
        validation_labels: Class index of each validation text.
        n_classes: Number of output classes.
        settings: Sizes of the layers.
        fit: Epochs, batch size, learning rate, patience and seed.

    Returns:
        The trained model (best validation epoch) and one row of metrics per epoch run.
    """
    keras.utils.set_random_seed(fit.seed)
    model = build_text_model(train_texts, n_classes, settings)
    model.compile(
        optimizer=keras.optimizers.Adam(fit.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        text_dataset(train_texts, train_labels, fit.batch_size, shuffle_seed=fit.seed),
        validation_data=text_dataset(validation_texts, validation_labels, fit.batch_size),
        epochs=fit.epochs,
        class_weight=balanced_class_weights(train_labels, n_classes),
        callbacks=[early_stopping(fit.patience)],
        shuffle=False,  # the dataset shuffles itself, with the seed
        verbose=0,
    )
    return model, history_rows(history)


def predict_text(model: keras.Model, texts: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities for preprocessed texts."""
    return np.asarray(model.predict(text_dataset(texts, None, batch_size), verbose=0))
