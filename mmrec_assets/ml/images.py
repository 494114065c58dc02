"""Decoding product photos into fixed-size RGB arrays, one chunk at a time.

Images larger than 89 megapixels (Pillow's decompression-bomb limit) are rejected rather than
decoded. Photos that are not square are padded with white to a square before resizing, so that
shapes keep their proportions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

WHITE = (255, 255, 255)
MAX_PIXELS = 89_478_485


class ImageLoadError(Exception):
    """A photo could not be turned into pixels; the message is the reason recorded for the row."""


@dataclass(frozen=True)
class ImageChunk:
    """Consecutive photos decoded together.

    Attributes:
        start: Position of the chunk's first photo in the full list of paths.
        pixels: ``(n, size, size, 3)`` uint8 array; rows of rejected photos are zero.
        ok: Boolean mask of the photos that were decoded.
        reasons: Why each photo was rejected, ``""`` for decoded ones.
    """

    start: int
    pixels: np.ndarray
    ok: np.ndarray
    reasons: list[str]


def load_image(path: Path | str, size: int) -> np.ndarray:
    """Decode one photo into a ``(size, size, 3)`` uint8 RGB array.

    Grayscale, palette, CMYK, 16-bit and images with transparency are all converted to RGB;
    transparent areas become white.

    Args:
        path: Image file.
        size: Side of the square output in pixels.

    Returns:
        The pixels.

    Raises:
        ImageLoadError: When the file is missing, too large or cannot be decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError("image file not found")

    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageLoadError(f"image too large: {width}x{height} pixels")
            # For JPEG, draft() lets the decoder scale down by up to 8x while decoding, which is
            # far cheaper than decoding the full photo and resizing afterwards.
            image.draft("RGB", (size, size))
            image.load()
            rgb = _to_rgb(image)
    except Image.DecompressionBombError as error:
        raise ImageLoadError(f"image too large: {error}") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageLoadError(f"cannot decode image: {error}") from error

    square = ImageOps.pad(rgb, (size, size), method=Image.Resampling.BILINEAR, color=WHITE)
    return np.asarray(square, dtype=np.uint8)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float32)
        top = float(values.max()) or 1.0
        image = Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8), "L")

    if "transparency" in image.info and image.mode in ("P", "RGB", "L"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, WHITE + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def iter_image_chunks(
    paths: Sequence[str], size: int, chunk_size: int = 64, workers: int = 2, prefetch: int = 2
) -> Iterator[ImageChunk]:
    """Decode photos in chunks, decoding the next chunks in threads while the caller works.

    Pillow releases the GIL while decoding, so the threads overlap with whatever the caller does
    with a chunk (typically a forward pass of a network). At most ``prefetch + 1`` chunks are held
    in memory, whatever the number of paths.

    Args:
        paths: Image files, in the order the chunks should follow.
        size: Side of the square output in pixels.
        chunk_size: Photos per chunk.
        workers: Decoding threads.
        prefetch: Chunks decoded ahead of the one being consumed.

    Yields:
        Chunks in order, covering every path exactly once.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if prefetch < 0:
        raise ValueError(f"prefetch must be 0 or more, got {prefetch}")

    starts = range(0, len(paths), chunk_size)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque[tuple[int, list[Future]]] = deque()
        upcoming = iter(starts)

        def submit_next() -> None:
            start = next(upcoming, None)
            if start is not None:
                batch = paths[start : start + chunk_size]
                pending.append((start, [pool.submit(_load_or_reason, p, size) for p in batch]))

        for _ in range(prefetch + 1):
            submit_next()

        while pending:
            start, futures = pending.popleft()
            submit_next()
            yield _collect(start, [future.result() for future in futures], size)


def _load_or_reason(path: str, size: int) -> np.ndarray | str:
    try:
        return load_image(path, size)
    except ImageLoadError as error:
        return str(error)


def _collect(start: int, results: list[np.ndarray | str], size: int) -> ImageChunk:
    pixels = np.zeros((len(results), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(results), dtype=bool)
    reasons = []
    for i, result in enumerate(results):
        if isinstance(result, str):
            reasons.append(result)
        else:
            pixels[i] = result
            ok[i] = True
            reasons.append("")
    return ImageChunk(start=start, pixels=pixels, ok=ok, reasons=reasons)
