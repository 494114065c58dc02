"""Predicting product types from raw catalogue rows with a saved fused model.

Each row is scored by whatever can see it: both branches through the fused model when the text
and the photo are usable, the text branch alone when the photo is missing or broken, the image
branch alone when the text is empty. The ``source`` column says which, and ``image_problem`` why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mmrec_assets.ml.bundle import ModelBundle
from mmrec_assets.ml.features import ConvBaseCounter
from mmrec_assets.ml.fusion import PIXELS_INPUT, TEXT_INPUT
from mmrec_assets.ml.images import iter_image_chunks
from mmrec_assets.ml.text import preprocess_texts

TEXT_MODEL_NAME = "text_lstm"
IMAGE_MODEL_NAME = "image_vgg16"
BOTH, TEXT_ONLY, IMAGE_ONLY, NEITHER = "text+image", "text only", "image only", "neither"
TOP_K = 3


class ProductClassifier:
    """Wraps a fused-model bundle to predict from ``designation``, ``description``, photo path."""

    def __init__(self, bundle: ModelBundle, version: str = "") -> None:
        self.fused = bundle.model
        self.text_model = bundle.model.get_layer(TEXT_MODEL_NAME)
        self.image_model = bundle.model.get_layer(IMAGE_MODEL_NAME)
        self.class_codes = np.asarray(bundle.class_codes)
        self.image_size = int(bundle.info["image_size"])
        self.max_tokens = int(bundle.info["max_tokens"])
        self.version = version

    def preprocess_texts(self, products: pd.DataFrame) -> np.ndarray:
        """The products' text, preprocessed as the text branch was trained on it."""
        texts = preprocess_texts(products["designation"], products["description"], self.max_tokens)
        return np.asarray(texts, dtype=object)

    def predict(self, products: pd.DataFrame, chunk_size: int = 256) -> pd.DataFrame:
        """Predict every row of a catalogue table, decoding its photos chunk by chunk.

        Args:
            products: Rows with ``designation``, ``description``, ``productid``, ``imageid`` and
                ``image_path``, as :func:`mmrec_assets.ml.catalogue.read_catalogue` returns.
            chunk_size: Rows decoded and scored together; bounds memory.

        Returns:
            One row per product, same index: ids, ``predicted_prdtypecode``, ``probability``,
            ``top3_prdtypecodes``, ``top3_probabilities``, ``source``, ``image_problem`` and
            ``model_version``.
        """
        texts = self.preprocess_texts(products)
        probabilities = np.zeros((len(products), len(self.class_codes)), dtype=np.float32)
        sources = np.empty(len(products), dtype=object)
        problems: list[str] = []

        paths = products["image_path"].astype(str).tolist()
        for chunk in iter_image_chunks(paths, self.image_size, chunk_size=chunk_size):
            rows = slice(chunk.start, chunk.start + len(chunk.ok))
            probabilities[rows], sources[rows] = self._score_chunk(
                texts[rows], chunk.pixels, chunk.ok
            )
            problems.extend(chunk.reasons)

        return self._table(products, probabilities, sources, problems)

    def predict_prepared(
        self,
        products: pd.DataFrame,
        texts: np.ndarray,
        pixels: np.ndarray,
        problems: list[str],
        chunk_size: int = 256,
    ) -> pd.DataFrame:
        """Predict rows whose text and photos were already preprocessed.

        Args:
            products: Rows with ``productid`` and ``imageid``.
            texts: Preprocessed text of each row (see :meth:`preprocess_texts`).
            pixels: ``(n, size, size, 3)`` decoded photos at this model's image size (may be a
                memory-mapped array).
            problems: Why each row's photo is unusable, ``""`` when it is usable.
            chunk_size: Rows scored together.

        Returns:
            The same table as :meth:`predict`.
        """
        if pixels.shape[1:] != (self.image_size, self.image_size, 3):
            raise ValueError(
                f"Photos are {pixels.shape[1:]} but the model takes "
                f"{(self.image_size, self.image_size, 3)}; decode them again at this size."
            )
        ok = np.array([not problem for problem in problems], dtype=bool)
        probabilities = np.zeros((len(products), len(self.class_codes)), dtype=np.float32)
        sources = np.empty(len(products), dtype=object)
        for start in range(0, len(products), chunk_size):
            rows = slice(start, start + chunk_size)
            probabilities[rows], sources[rows] = self._score_chunk(
                texts[rows], np.asarray(pixels[rows]), ok[rows]
            )
        return self._table(products, probabilities, sources, list(problems))

    def _score_chunk(self, texts: np.ndarray, pixels: np.ndarray, ok: np.ndarray):
        has_text = np.array([bool(text) for text in texts], dtype=bool)
        result = np.zeros((len(texts), len(self.class_codes)), dtype=np.float32)
        sources = np.full(len(texts), NEITHER, dtype=object)
        pixels = pixels.astype(np.float32)

        both = has_text & ok
        if both.any():
            ConvBaseCounter.calls += 1
            ConvBaseCounter.images += int(both.sum())
            inputs = {TEXT_INPUT: texts[both].reshape(-1, 1), PIXELS_INPUT: pixels[both]}
            result[both] = self.fused.predict_on_batch(inputs)
            sources[both] = BOTH
        # A row with neither usable text nor photo gets the text branch's answer to an empty
        # text, which is close to the class prior; its source says "neither".
        text_only = ~ok
        if text_only.any():
            result[text_only] = self.text_model.predict_on_batch(texts[text_only].reshape(-1, 1))
            sources[text_only & has_text] = TEXT_ONLY
        image_only = ok & ~has_text
        if image_only.any():
            ConvBaseCounter.calls += 1
            ConvBaseCounter.images += int(image_only.sum())
            result[image_only] = self.image_model.predict_on_batch(pixels[image_only])
            sources[image_only] = IMAGE_ONLY
        return result, sources

    def _table(self, products, probabilities, sources, problems) -> pd.DataFrame:
        top = np.argsort(-probabilities, axis=1)[:, :TOP_K]
        top_probabilities = np.take_along_axis(probabilities, top, axis=1)
        return pd.DataFrame(
            {
                "productid": products["productid"].to_numpy(),
                "imageid": products["imageid"].to_numpy(),
                "predicted_prdtypecode": self.class_codes[top[:, 0]],
                "probability": top_probabilities[:, 0],
                "top3_prdtypecodes": [self.class_codes[row].tolist() for row in top],
                "top3_probabilities": [row.round(4).tolist() for row in top_probabilities],
                "source": sources,
                "image_problem": problems,
                "model_version": self.version,
            },
            index=products.index,
        )
