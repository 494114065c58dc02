from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mmrec_assets.ml.images as images
from mmrec_assets.ml.images import ImageLoadError, iter_image_chunks, load_image

SIZE = 8
RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)


def save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def left_half(image: Image.Image, value) -> Image.Image:
    """Paint the left half of the image with ``value`` (a pixel in the image's mode)."""
    image.paste(value, (0, 0, image.width // 2, image.height))
    return image


def assert_rgb_array(pixels: np.ndarray, size: int = SIZE) -> None:
    assert pixels.shape == (size, size, 3)
    assert pixels.dtype == np.uint8


def assert_halves(pixels: np.ndarray, left: tuple, right: tuple) -> None:
    half = pixels.shape[1] // 2
    assert (pixels[:, :half] == left).all(), pixels[:, :half].reshape(-1, 3)[:2]
    assert (pixels[:, half:] == right).all(), pixels[:, half:].reshape(-1, 3)[:2]


def test_rgb_jpeg(tmp_path: Path):
    path = save(Image.new("RGB", (16, 16), (200, 30, 60)), tmp_path / "rgb.jpg")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert np.abs(pixels.astype(int) - (200, 30, 60)).max() <= 4


def test_grayscale_jpeg_becomes_three_equal_channels(tmp_path: Path):
    path = save(Image.new("L", (16, 16), 128), tmp_path / "gray.jpg")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert (pixels[..., 0] == pixels[..., 1]).all()
    assert (pixels[..., 0] == pixels[..., 2]).all()
    assert np.abs(pixels.astype(int) - 128).max() <= 2


def test_cmyk_jpeg(tmp_path: Path):
    path = save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "cmyk.jpg")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert np.abs(pixels.astype(int) - RED).max() <= 4


def test_rgb_png_keeps_exact_colours(tmp_path: Path):
    path = save(left_half(Image.new("RGB", (SIZE, SIZE), BLUE), RED), tmp_path / "rgb.png")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert_halves(pixels, RED, BLUE)


def test_palette_png(tmp_path: Path):
    image = Image.new("P", (SIZE, SIZE), 1)
    image.putpalette([*RED, *BLUE])
    path = save(left_half(image, 0), tmp_path / "palette.png")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert_halves(pixels, RED, BLUE)


def test_palette_png_with_transparency_turns_transparent_areas_white(tmp_path: Path):
    image = Image.new("P", (SIZE, SIZE), 1)
    image.putpalette([0, 0, 0, *BLUE])
    path = save(left_half(image, 0), tmp_path / "palette_alpha.png", transparency=0)

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert_halves(pixels, WHITE, BLUE)


def test_rgba_png_turns_transparent_areas_white(tmp_path: Path):
    image = left_half(Image.new("RGBA", (SIZE, SIZE), (*BLUE, 255)), (0, 0, 0, 0))
    path = save(image, tmp_path / "rgba.png")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert_halves(pixels, WHITE, BLUE)


def test_rgba_png_blends_half_transparent_areas_with_white(tmp_path: Path):
    path = save(Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 128)), tmp_path / "half.png")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert np.abs(pixels.astype(int) - 127).max() <= 1


def test_grayscale_with_alpha_turns_transparent_areas_white(tmp_path: Path):
    image = left_half(Image.new("LA", (SIZE, SIZE), (50, 255)), (0, 0))
    path = save(image, tmp_path / "la.png")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert_halves(pixels, WHITE, (50, 50, 50))


def test_rgb_png_with_colour_key_transparency_turns_transparent_areas_white(tmp_path: Path):
    image = left_half(Image.new("RGB", (SIZE, SIZE), BLUE), (0, 0, 0))
    path = save(image, tmp_path / "rgb_key.png", transparency=(0, 0, 0))

    pixels = load_image(path, SIZE)

    assert_halves(pixels, WHITE, BLUE)


def test_grayscale_png_with_colour_key_transparency_turns_transparent_areas_white(
    tmp_path: Path,
):
    image = left_half(Image.new("L", (SIZE, SIZE), 50), 0)
    path = save(image, tmp_path / "l_key.png", transparency=0)

    pixels = load_image(path, SIZE)

    assert_halves(pixels, WHITE, (50, 50, 50))


def test_sixteen_bit_png_is_scaled_to_eight_bits(tmp_path: Path):
    values = np.tile(np.array([0, 1000, 2000, 4000], dtype=np.uint16), (4, 1))
    image = Image.fromarray(values)
    path = save(image, tmp_path / "deep.png")
    with Image.open(path) as reread:
        assert reread.mode == "I;16"

    pixels = load_image(path, 4)

    assert_rgb_array(pixels, 4)
    assert (pixels[..., 0] == pixels[..., 1]).all()
    assert (pixels[..., 0] == pixels[..., 2]).all()
    row = pixels[0, :, 0].astype(int)
    assert row[0] == 0
    assert row[-1] == 255
    assert (np.diff(row) > 0).all()


def test_bilevel_png(tmp_path: Path):
    image = left_half(Image.new("1", (SIZE, SIZE), 1), 0)
    path = save(image, tmp_path / "bilevel.png")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert_halves(pixels, (0, 0, 0), WHITE)


def test_larger_photo_is_resized(tmp_path: Path):
    path = save(left_half(Image.new("RGB", (64, 64), BLUE), RED), tmp_path / "large.png")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert (pixels[:, 0] == RED).all()
    assert (pixels[:, -1] == BLUE).all()


def test_wide_photo_is_padded_with_white_rows(tmp_path: Path):
    path = save(Image.new("RGB", (16, 8), (0, 0, 0)), tmp_path / "wide.png")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert (pixels[:2] == 255).all()
    assert (pixels[2:6] == 0).all()
    assert (pixels[6:] == 255).all()


def test_tall_photo_is_padded_with_white_columns(tmp_path: Path):
    path = save(Image.new("RGB", (8, 16), (0, 0, 0)), tmp_path / "tall.png")

    pixels = load_image(path, SIZE)

    assert_rgb_array(pixels)
    assert (pixels[:, :2] == 255).all()
    assert (pixels[:, 2:6] == 0).all()
    assert (pixels[:, 6:] == 255).all()


def test_accepts_a_string_path(tmp_path: Path):
    path = save(Image.new("RGB", (SIZE, SIZE), BLUE), tmp_path / "blue.png")

    pixels = load_image(str(path), SIZE)

    assert (pixels == BLUE).all()


def test_missing_file_is_rejected(tmp_path: Path):
    with pytest.raises(ImageLoadError) as caught:
        load_image(tmp_path / "absent.jpg", SIZE)

    assert str(caught.value) == "image file not found"


def test_folder_is_rejected_as_not_found(tmp_path: Path):
    with pytest.raises(ImageLoadError, match="^image file not found$"):
        load_image(tmp_path, SIZE)


def test_truncated_jpeg_is_rejected(tmp_path: Path):
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    whole = save(Image.fromarray(noise), tmp_path / "whole.jpg")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    with pytest.raises(ImageLoadError, match="^cannot decode image"):
        load_image(cut, SIZE)


def test_corrupt_bytes_are_rejected(tmp_path: Path):
    path = tmp_path / "noise.jpg"
    path.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8)))

    with pytest.raises(ImageLoadError, match="^cannot decode image"):
        load_image(path, SIZE)


def test_text_file_named_like_a_photo_is_rejected(tmp_path: Path):
    path = tmp_path / "notes.jpg"
    path.write_text("designation,description\nTente,pliante\n", encoding="utf-8")

    with pytest.raises(ImageLoadError, match="^cannot decode image"):
        load_image(path, SIZE)


def test_empty_file_is_rejected(tmp_path: Path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")

    with pytest.raises(ImageLoadError, match="^cannot decode image"):
        load_image(path, SIZE)


def test_photo_above_the_pixel_limit_is_rejected(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    path = save(Image.new("RGB", (11, 10), BLUE), tmp_path / "big.png")

    with pytest.raises(ImageLoadError) as caught:
        load_image(path, SIZE)

    assert "too large" in str(caught.value)
    assert "11x10" in str(caught.value)


def test_photo_at_the_pixel_limit_is_accepted(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    path = save(Image.new("RGB", (10, 10), BLUE), tmp_path / "limit.png")

    pixels = load_image(path, SIZE)

    assert (pixels == BLUE).all()


@pytest.fixture
def mixed_paths(tmp_path: Path) -> list[str]:
    """Seven paths: five photos of distinct colours, one missing file and one text file."""
    paths = []
    for i in range(5):
        colour = (40 * i, 255 - 40 * i, 10 * i)
        paths.append(str(save(Image.new("RGB", (12, 6), colour), tmp_path / f"p{i}.png")))
    text = tmp_path / "text.jpg"
    text.write_text("not a photo", encoding="utf-8")
    paths.insert(1, str(tmp_path / "missing.jpg"))
    paths.insert(5, str(text))
    return paths


def test_chunks_cover_every_path_once_in_order(mixed_paths: list[str]):
    chunks = list(iter_image_chunks(mixed_paths, SIZE, chunk_size=3, workers=3, prefetch=1))

    assert [chunk.start for chunk in chunks] == [0, 3, 6]
    assert [len(chunk.ok) for chunk in chunks] == [3, 3, 1]
    assert [chunk.pixels.shape for chunk in chunks] == [
        (3, SIZE, SIZE, 3),
        (3, SIZE, SIZE, 3),
        (1, SIZE, SIZE, 3),
    ]
    assert all(chunk.pixels.dtype == np.uint8 for chunk in chunks)


def test_chunks_flag_rejected_photos_with_their_reason(mixed_paths: list[str]):
    chunks = list(iter_image_chunks(mixed_paths, SIZE, chunk_size=3))

    ok = np.concatenate([chunk.ok for chunk in chunks])
    reasons = [reason for chunk in chunks for reason in chunk.reasons]

    assert ok.dtype == bool
    assert ok.tolist() == [True, False, True, True, True, False, True]
    assert reasons[1] == "image file not found"
    assert reasons[5].startswith("cannot decode image")
    assert [reasons[i] for i in (0, 2, 3, 4, 6)] == [""] * 5


def test_chunks_match_loading_each_photo_alone(mixed_paths: list[str]):
    chunks = list(iter_image_chunks(mixed_paths, SIZE, chunk_size=3, workers=4))
    pixels = np.concatenate([chunk.pixels for chunk in chunks])

    for i, path in enumerate(mixed_paths):
        try:
            expected = load_image(path, SIZE)
        except ImageLoadError:
            expected = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
        np.testing.assert_array_equal(pixels[i], expected, err_msg=path)
    assert pixels[0].any()


def test_one_chunk_when_chunk_size_exceeds_the_paths(mixed_paths: list[str]):
    chunks = list(iter_image_chunks(mixed_paths, SIZE, chunk_size=100, prefetch=0))

    assert len(chunks) == 1
    assert chunks[0].start == 0
    assert len(chunks[0].reasons) == len(mixed_paths)


def test_no_paths_give_no_chunks():
    assert list(iter_image_chunks([], SIZE)) == []


@pytest.mark.parametrize("chunk_size", [0, -1])
def test_chunk_size_below_one_is_rejected(mixed_paths: list[str], chunk_size: int):
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        list(iter_image_chunks(mixed_paths, SIZE, chunk_size=chunk_size))


def test_negative_prefetch_is_rejected(mixed_paths: list[str]):
    with pytest.raises(ValueError):
        list(iter_image_chunks(mixed_paths, SIZE, chunk_size=3, prefetch=-1))
