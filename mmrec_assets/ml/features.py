"""The frozen VGG16 image encoder and the one pass that turns photos into stored features.

The encoder is a Keras model from decoded pixels (uint8 RGB, any value range 0-255) to a 512-d
vector: VGG16's own input preprocessing, the VGG16 convolutional base, and global average pooling.
It runs once per photo per feature extraction; every later step reads the stored features.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import keras
import numpy as np

from mmrec_assets.ml.images import iter_image_chunks

logger = logging.getLogger(__name__)

FEATURE_DIM = 512
# VGG16 was trained on BGR images with these per-channel means (in BGR order) subtracted.
VGG16_BGR_MEANS = (103.939, 116.779, 123.68)
IMAGENET_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


class PretrainedWeightsUnavailable(RuntimeError):
    """The ImageNet weights were asked for strictly and could not be had."""


@dataclass(frozen=True)
class Encoder:
    """A VGG16 encoder and where its weights came from.

    Attributes:
        model: Keras model from ``(n, size, size, 3)`` pixels to ``(n, 512)`` features.
        weights_source: ``"imagenet"``, a weights file path, or ``"random"``.
        warning: Why the weights are not pretrained, or ``None`` when they are.
    """

    model: keras.Model
    weights_source: str
    warning: str | None

    @property
    def pretrained(self) -> bool:
        return self.warning is None


class ConvBaseCounter:
    """Counts the photos that went through the VGG16 conv base in this process."""

    images = 0
    calls = 0


def vgg16_preprocessing(image_size: int) -> keras.layers.Layer:
    """A frozen 1x1 convolution doing VGG16's input preprocessing (RGB to BGR, minus the means).

    Built from a standard layer rather than a ``Lambda`` so that saved models load anywhere
    without the project's code, and training and prediction share exactly the same arithmetic.
    """
    swap_channels = np.zeros((1, 1, 3, 3), dtype=np.float32)
    for rgb_channel, bgr_channel in ((0, 2), (1, 1), (2, 0)):
        swap_channels[0, 0, rgb_channel, bgr_channel] = 1.0
    layer = keras.layers.Conv2D(3, 1, name="vgg16_preprocessing", trainable=False)
    layer.build((None, image_size, image_size, 3))
    layer.set_weights([swap_channels, -np.array(VGG16_BGR_MEANS, dtype=np.float32)])
    return layer


def build_encoder(image_size: int, weights: str = "auto", seed: int = 0) -> Encoder:
    """Build the frozen VGG16 encoder for square photos of ``image_size`` pixels.

    Args:
        image_size: Side of the input photos (32 or more).
        weights: ``"imagenet"`` (fail if they cannot be loaded from Keras' cache or downloaded),
            ``"auto"`` (ImageNet when available, otherwise random initialisation with a warning),
            ``"none"`` (random initialisation), or the path of a VGG16 no-top weights file.
        seed: Seed of the random initialisation, when there is one.

    Returns:
        The encoder, with the source of its weights and a warning when they are not pretrained.

    Raises:
        PretrainedWeightsUnavailable: When ``weights="imagenet"`` and they cannot be had.
        FileNotFoundError: When a weights file path does not exist.
    """
    if image_size < 32:
        raise ValueError(f"VGG16 needs images of at least 32 pixels, got {image_size}")

    shape = (image_size, image_size, 3)
    warning = None
    if weights in ("imagenet", "auto"):
        try:
            base = keras.applications.VGG16(
                include_top=False, weights="imagenet", input_shape=shape
            )
            source = "imagenet"
        except Exception as error:
            message = (
                f"ImageNet weights for VGG16 ({IMAGENET_WEIGHTS_FILE}) are neither in the Keras "
                f"cache (~/.keras/models or $KERAS_HOME/models) nor downloadable: {error}"
            )
            if weights == "imagenet":
                raise PretrainedWeightsUnavailable(
                    message + ". Put the file in the Keras cache or pass its path as the weights "
                    "setting; weights='auto' would fall back to random initialisation."
                ) from error
            warning = (
                message + ". The image branch uses a RANDOMLY INITIALISED VGG16: its features "
                "are far weaker than pretrained ones."
            )
            base, source = None, "random"
    elif weights == "none":
        base, source = None, "random"
        warning = "weights='none': the image branch uses a randomly initialised VGG16."
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"VGG16 weights file not found: {path}")
        base = keras.applications.VGG16(include_top=False, weights=str(path), input_shape=shape)
        source = str(path)

    if base is None:
        keras.utils.set_random_seed(seed)
        base = keras.applications.VGG16(include_top=False, weights=None, input_shape=shape)
        logger.warning(warning)
    base.trainable = False

    pixels = keras.Input(shape=shape, name="pixels")
    x = vgg16_preprocessing(image_size)(pixels)
    x = base(x, training=False)
    features = keras.layers.GlobalAveragePooling2D(name="vgg16_features")(x)
    model = keras.Model(pixels, features, name="vgg16_encoder")
    return Encoder(model=model, weights_source=source, warning=warning)


def encode(encoder: keras.Model, pixels: np.ndarray) -> np.ndarray:
    """Run the conv base on a batch of pixels and count it."""
    ConvBaseCounter.calls += 1
    ConvBaseCounter.images += len(pixels)
    return np.asarray(encoder.predict_on_batch(pixels.astype(np.float32)), dtype=np.float32)


@dataclass(frozen=True)
class ExtractionReport:
    """What one feature extraction did."""

    images: int
    rejected: int
    reasons: list[str]
    seconds: float
    conv_base_images: int

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


def extract_features(
    encoder: keras.Model,
    paths: list[str],
    image_size: int,
    pixels_out: BinaryIO,
    features_out: BinaryIO,
    chunk_size: int = 64,
    workers: int = 2,
    progress: Callable[[int, int, float], None] | None = None,
) -> ExtractionReport:
    """Decode every photo once, run the encoder on the decodable ones, stream both to ``.npy``.

    Decoding of the next chunks overlaps with the encoder's pass on the current one, and only a
    few chunks are in memory at any time, so memory does not grow with the number of photos.

    Args:
        encoder: The encoder model.
        paths: Photo files, one per row.
        image_size: Side of the square photos.
        pixels_out: Binary file receiving a ``(len(paths), size, size, 3)`` uint8 ``.npy``;
            rejected rows are zero.
        features_out: Binary file receiving a ``(len(paths), 512)`` float32 ``.npy``; rejected
            rows are NaN.
        chunk_size: Photos per chunk.
        workers: Decoding threads.
        progress: Called after each chunk with (photos done, total, photos per second).

    Returns:
        Counts, the rejection reason of each row (``""`` when decoded) and timing.
    """
    total = len(paths)
    write_npy_header(pixels_out, (total, image_size, image_size, 3), np.uint8)
    write_npy_header(features_out, (total, FEATURE_DIM), np.float32)

    reasons: list[str] = []
    encoded_before = ConvBaseCounter.images
    started = time.perf_counter()
    for chunk in iter_image_chunks(paths, image_size, chunk_size=chunk_size, workers=workers):
        features = np.full((len(chunk.ok), FEATURE_DIM), np.nan, dtype=np.float32)
        if chunk.ok.any():
            features[chunk.ok] = encode(encoder, chunk.pixels[chunk.ok])
        pixels_out.write(chunk.pixels.tobytes())
        features_out.write(features.tobytes())
        reasons.extend(chunk.reasons)
        if progress is not None:
            done = len(reasons)
            progress(done, total, done / (time.perf_counter() - started))

    return ExtractionReport(
        images=total,
        rejected=sum(1 for reason in reasons if reason),
        reasons=reasons,
        seconds=time.perf_counter() - started,
        conv_base_images=ConvBaseCounter.images - encoded_before,
    )


def write_npy_header(handle: BinaryIO, shape: tuple[int, ...], dtype: type) -> None:
    """Write the header of a C-ordered ``.npy`` file whose data will be appended in row order."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False}
    np.lib.format.write_array_header_2_0(handle, {**header, "shape": shape})
