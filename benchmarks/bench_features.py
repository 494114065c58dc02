"""Measure the VGG16 feature extraction: its throughput, what it saves later, and its memory.

Three figures, on a synthetic catalogue of 500x500 JPEGs written to a temporary folder:

1. Throughput. The project's extraction (decoding in threads, overlapped with the encoder's
   pass, both outputs streamed to ``.npy`` files) against a bare VGG16 forward pass over the same
   photos already decoded in memory, and against a sequential loop that decodes a chunk and then
   encodes it. The rounds alternate and the best of each is kept, which is the figure least
   disturbed by the rest of the machine.
2. Extra epochs. The image head trains on the stored features, so one more epoch costs a pass
   over a small matrix and not a single photo through the conv base.
3. Peak memory. The extraction runs in a fresh process for a quarter of the catalogue and for
   all of it; since chunks stream to files, the peak resident memory should not grow with the
   number of photos.

ImageNet weights cannot be downloaded on an offline machine, so the encoder is randomly
initialised by default; that changes no timing. At 224 pixels each pass of VGG16 costs about
twelve times as much as at 64, so ``--size 224`` takes several times longer on a small machine.

Usage:
    .venv/bin/python benchmarks/bench_features.py [--images N] [--size PX] [--weights none]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# TensorFlow's start-up chatter on stderr says nothing about the figures printed here.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Run as a script from a checkout, where the package is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras

from mmrec_assets.ml.catalogue import read_catalogue
from mmrec_assets.ml.features import (
    FEATURE_DIM,
    ConvBaseCounter,
    build_encoder,
    encode,
    extract_features,
)
from mmrec_assets.ml.image_model import train_image_head
from mmrec_assets.ml.images import iter_image_chunks, load_image
from mmrec_assets.ml.sample import PRDTYPECODES, generate_sample
from mmrec_assets.ml.training import FitSettings

SOURCE_PX = 500
CHUNK_SIZE = 64
WORKERS = 2
ROUNDS = 2
HEAD_RUNS = 3
N_CLASSES = len(PRDTYPECODES)
KIB_PER_MIB = 1024


def parse_args() -> argparse.Namespace:
    """Read the command line.

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images",
        type=int,
        default=540,
        help=f"photos in the catalogue, rounded to a multiple of {N_CLASSES} (default: 540)",
    )
    parser.add_argument(
        "--size", type=int, default=64, help="side of the encoder's input in pixels (default: 64)"
    )
    parser.add_argument(
        "--weights",
        default="none",
        help="VGG16 weights: none, auto, imagenet or a weights file (default: none)",
    )
    # The memory figures run the extraction in a fresh copy of this script.
    parser.add_argument("--child-extract", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.images < 1:
        parser.error("--images must be at least 1")
    if args.size < 32:
        parser.error("--size must be at least 32")
    return args


def make_catalogue(parent: Path, rows_per_class: int) -> tuple[list[str], float]:
    """Write a synthetic catalogue without defects and list its photos.

    Args:
        parent: Folder to write the catalogue in.
        rows_per_class: Photos for each product type code.

    Returns:
        The photo paths in catalogue order and the seconds the writing took.
    """
    started = time.perf_counter()
    summary = generate_sample(
        parent / f"catalogue_{rows_per_class}",
        rows_per_class=rows_per_class,
        unlabelled_rows=0,
        image_px=SOURCE_PX,
        seed=0,
        defects=False,
    )
    seconds = time.perf_counter() - started
    return read_catalogue(summary.root)["image_path"].tolist(), seconds


def decode_all(paths: list[str], size: int) -> tuple[np.ndarray, float]:
    """Decode every photo in this thread into one array.

    Args:
        paths: Photo files.
        size: Side of the square output.

    Returns:
        The ``(n, size, size, 3)`` uint8 pixels and the seconds the decoding took.
    """
    pixels = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    started = time.perf_counter()
    for i, path in enumerate(paths):
        pixels[i] = load_image(path, size)
    return pixels, time.perf_counter() - started


def time_threaded_decoding(paths: list[str], size: int) -> float:
    """Seconds the project's chunked, threaded decoding takes with nothing else to do."""
    started = time.perf_counter()
    for _ in iter_image_chunks(paths, size, chunk_size=CHUNK_SIZE, workers=WORKERS):
        pass
    return time.perf_counter() - started


def time_project(model: keras.Model, paths: list[str], size: int, out_dir: Path) -> float:
    """Seconds the project's extraction takes, from opening its output files to closing them.

    Args:
        model: The encoder.
        paths: Photo files.
        size: Side of the square photos.
        out_dir: Folder receiving ``pixels.npy`` and ``features.npy``.

    Returns:
        The wall time.
    """
    started = time.perf_counter()
    with (
        open(out_dir / "pixels.npy", "wb") as pixels_out,
        open(out_dir / "features.npy", "wb") as features_out,
    ):
        report = extract_features(
            model,
            paths,
            size,
            pixels_out,
            features_out,
            chunk_size=CHUNK_SIZE,
            workers=WORKERS,
        )
    seconds = time.perf_counter() - started
    if report.rejected:
        raise RuntimeError(f"the extraction rejected {report.rejected} photos of a clean sample")
    return seconds


def time_bare(model: keras.Model, pixels: np.ndarray) -> tuple[float, np.ndarray]:
    """Seconds a bare forward pass takes over already decoded photos, in chunks.

    Args:
        model: The encoder.
        pixels: Decoded photos.

    Returns:
        The wall time and the features.
    """
    outputs = []
    started = time.perf_counter()
    for start in range(0, len(pixels), CHUNK_SIZE):
        outputs.append(encode(model, pixels[start : start + CHUNK_SIZE]))
    seconds = time.perf_counter() - started
    return seconds, np.concatenate(outputs)


def time_sequential(model: keras.Model, paths: list[str], size: int) -> float:
    """Seconds a loop takes that decodes a chunk in this thread and then encodes it."""
    started = time.perf_counter()
    for start in range(0, len(paths), CHUNK_SIZE):
        chunk = np.stack([load_image(path, size) for path in paths[start : start + CHUNK_SIZE]])
        encode(model, chunk)
    return time.perf_counter() - started


def rate(images: int, seconds: float) -> str:
    """Describe a timing as photos in seconds and photos per second."""
    return f"{images} images in {seconds:.2f} s, {images / seconds:.1f} images/s"


def measure_throughput(
    model: keras.Model, paths: list[str], size: int, work_dir: Path
) -> tuple[np.ndarray, float, int]:
    """Print the throughput of the project's extraction, a bare pass and a sequential loop.

    Args:
        model: The encoder, built once.
        paths: Photo files.
        size: Side of the square photos.
        work_dir: Folder for the extraction's output files.

    Returns:
        The stored features of the project's extraction, the seconds of its best run and the
        photos it sent through the conv base in that run.
    """
    count = len(paths)
    pixels, decode_seconds = decode_all(paths, size)
    print(f"decode only, 1 thread (load_image loop): {rate(count, decode_seconds)}")
    threaded_seconds = time_threaded_decoding(paths, size)
    print(
        f"decode only, {WORKERS} threads (iter_image_chunks, no encoder): "
        f"{rate(count, threaded_seconds)}"
    )

    # The first call of a Keras model traces its graph; no measurement should pay for that.
    encode(model, pixels[:CHUNK_SIZE])

    timings: dict[str, list[float]] = {"project": [], "bare": [], "sequential": []}
    conv_base_images = 0
    bare_features = np.empty((0, FEATURE_DIM), dtype=np.float32)
    for round_number in range(1, ROUNDS + 1):
        before = ConvBaseCounter.images
        timings["project"].append(time_project(model, paths, size, work_dir))
        conv_base_images = ConvBaseCounter.images - before
        bare_seconds, bare_features = time_bare(model, pixels)
        timings["bare"].append(bare_seconds)
        timings["sequential"].append(time_sequential(model, paths, size))
        print(
            f"round {round_number}: (a) project {timings['project'][-1]:.2f} s, "
            f"(b) bare {timings['bare'][-1]:.2f} s, "
            f"(c) sequential {timings['sequential'][-1]:.2f} s"
        )

    best = {name: min(seconds) for name, seconds in timings.items()}
    print(f"(a) project extract_features, best of {ROUNDS}: {rate(count, best['project'])}")
    print(f"(b) bare VGG16 on decoded arrays, best of {ROUNDS}: {rate(count, best['bare'])}")
    print(f"(c) sequential decode then encode, best of {ROUNDS}: {rate(count, best['sequential'])}")
    print(f"throughput ratio project / bare: {best['bare'] / best['project']:.3f}")
    print(f"overlap gain project / sequential: {best['sequential'] / best['project']:.3f}")

    stored = np.load(work_dir / "features.npy")
    difference = float(np.max(np.abs(stored - bare_features)))
    print(f"stored features {stored.shape}, max |project - bare| = {difference:.2e}")
    return stored, best["project"], conv_base_images


def time_head(features: np.ndarray, labels: np.ndarray, epochs: int) -> tuple[float, int]:
    """Train the image head on stored features, keeping the fastest of a few runs.

    Args:
        features: Stored features, one row per photo.
        labels: Class index of each photo.
        epochs: Epochs each run trains for.

    Returns:
        The seconds of the fastest run and the photos all runs sent through the conv base.
    """
    split = int(len(features) * 0.8)
    fit = FitSettings(epochs=epochs, patience=epochs + 1)
    before = ConvBaseCounter.images
    seconds = []
    for _ in range(HEAD_RUNS):
        started = time.perf_counter()
        _, history = train_image_head(
            features[:split], labels[:split], features[split:], labels[split:], N_CLASSES, fit=fit
        )
        seconds.append(time.perf_counter() - started)
        if len(history) != epochs:
            raise RuntimeError(f"the head trained {len(history)} epochs instead of {epochs}")
    return min(seconds), ConvBaseCounter.images - before


def measure_head_epochs(
    features: np.ndarray, extraction_seconds: float, extraction_conv_images: int
) -> None:
    """Print what one more epoch of the image head costs, in photos encoded and in seconds.

    Args:
        features: Stored features from the project's extraction.
        extraction_seconds: Wall time of the extraction that produced them.
        extraction_conv_images: Photos that extraction sent through the conv base.
    """
    labels = np.random.default_rng(0).integers(N_CLASSES, size=len(features))
    one_seconds, one_conv = time_head(features, labels, epochs=1)
    two_seconds, two_conv = time_head(features, labels, epochs=2)
    print(
        f"train_image_head, 1 epoch: best of {HEAD_RUNS} {one_seconds:.2f} s, "
        f"conv-base images over all runs: {one_conv}"
    )
    print(
        f"train_image_head, 2 epochs: best of {HEAD_RUNS} {two_seconds:.2f} s, "
        f"conv-base images over all runs: {two_conv}"
    )
    print(f"extra epoch: {two_seconds - one_seconds:.3f} s, 0 photos through VGG16")
    print(
        f"for contrast, the extraction: {extraction_conv_images} conv-base images "
        f"in {extraction_seconds:.2f} s"
    )


def child_extract(catalogue: Path, size: int, weights: str) -> None:
    """Extract the features of one catalogue in this process and print its peak memory as JSON.

    Args:
        catalogue: Catalogue folder.
        size: Side of the square photos.
        weights: VGG16 weights setting.
    """
    paths = read_catalogue(catalogue)["image_path"].tolist()
    model = build_encoder(size, weights).model
    encode(model, np.zeros((CHUNK_SIZE, size, size, 3), dtype=np.uint8))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    with tempfile.TemporaryDirectory(prefix="bench_features_child_") as out_dir:
        seconds = time_project(model, paths, size, Path(out_dir))
        output_bytes = sum(path.stat().st_size for path in Path(out_dir).iterdir())

    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "images": len(paths),
        "seconds": seconds,
        "output_bytes": output_bytes,
        "peak_before_kib": peak_before,
        "peak_after_kib": peak_after,
    }
    print(json.dumps(result))


def run_child(catalogue: Path, size: int, weights: str) -> dict[str, float]:
    """Run the extraction of one catalogue in a fresh copy of this script.

    Args:
        catalogue: Catalogue folder.
        size: Side of the square photos.
        weights: VGG16 weights setting.

    Returns:
        What the child printed: photos, seconds, output bytes and its peak memory in KiB.
    """
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-extract",
        str(catalogue),
        "--size",
        str(size),
        "--weights",
        weights,
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(
            f"extraction child for {catalogue} failed with code {finished.returncode}:\n"
            f"{finished.stderr[-4000:]}"
        )
    return json.loads(finished.stdout.strip().splitlines()[-1])


def measure_memory(catalogues: list[Path], size: int, weights: str) -> None:
    """Print the peak resident memory of the extraction for catalogues of growing size.

    Args:
        catalogues: Catalogue folders, smallest first.
        size: Side of the square photos.
        weights: VGG16 weights setting.
    """
    results = [run_child(catalogue, size, weights) for catalogue in catalogues]
    for result in results:
        print(
            f"fresh process, {result['images']} images: peak RSS "
            f"{result['peak_after_kib'] / KIB_PER_MIB:.1f} MiB "
            f"({result['peak_before_kib'] / KIB_PER_MIB:.1f} MiB after import, encoder build "
            f"and warm-up; extraction {result['seconds']:.2f} s, "
            f"{result['output_bytes'] / 2**20:.1f} MiB written to .npy files)"
        )

    small, large = results[0], results[-1]
    print(
        f"peak RSS ratio {large['images']} / {small['images']} images "
        f"({large['images'] / small['images']:.0f}x the photos): "
        f"{large['peak_after_kib'] / small['peak_after_kib']:.3f}"
    )
    children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        f"RUSAGE_CHILDREN high-water mark over all children: {children_peak / KIB_PER_MIB:.1f} MiB"
    )
    print(
        "the extraction streams pixels and features to files, so only a few chunks "
        f"of {CHUNK_SIZE} photos are in memory at any time"
    )


def main() -> None:
    """Run the benchmark and print its figures."""
    args = parse_args()
    if args.child_extract is not None:
        child_extract(args.child_extract, args.size, args.weights)
        return

    rows_per_class = max(1, round(args.images / N_CLASSES))
    small_rows_per_class = max(1, rows_per_class // 4)

    with tempfile.TemporaryDirectory(prefix="bench_features_") as temp:
        work_dir = Path(temp)
        paths, generation_seconds = make_catalogue(work_dir, rows_per_class)
        print(
            f"catalogue: {len(paths)} images ({N_CLASSES} classes x {rows_per_class}), "
            f"{SOURCE_PX}x{SOURCE_PX} JPEG, written in {generation_seconds:.1f} s"
        )

        encoder = build_encoder(args.size, args.weights)
        print(
            f"encoder: VGG16 at {args.size}x{args.size}, weights {encoder.weights_source}; "
            f"chunks of {CHUNK_SIZE}, {WORKERS} decoding threads, {os.cpu_count()} CPU cores"
        )

        print("-- 1. throughput")
        features, extraction_seconds, conv_images = measure_throughput(
            encoder.model, paths, args.size, work_dir
        )

        print("-- 2. extra epochs of the image head")
        measure_head_epochs(features, extraction_seconds, conv_images)

        print("-- 3. peak memory against catalogue size")
        catalogue = Path(paths[0]).parents[1]
        if small_rows_per_class < rows_per_class:
            small_paths, _ = make_catalogue(work_dir, small_rows_per_class)
            catalogues = [Path(small_paths[0]).parents[1], catalogue]
        else:
            catalogues = [catalogue, catalogue]
        measure_memory(catalogues, args.size, args.weights)


if __name__ == "__main__":
    main()
