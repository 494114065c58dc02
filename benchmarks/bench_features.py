"""Measure the VGG16 feature extraction: its throughput, what it saves later, and its memory.

Three figures, on a synthetic catalogue of 500x500 JPEGs written to a temporary folder:

1. Throughput. The project's extraction (decoding in threads, overlapped with the encoder's
   pass, both outputs streamed to ``.npy`` files) against a bare VGG16 forward pass over the same
   photos already decoded in memory, and against a sequential loop that decodes a chunk and then
   encodes it. The rounds alternate and the best of each is kept, which is the figure least
   disturbed by the rest of the machine. CPU time over all threads is printed beside wall time:
   on a machine shared with other work it is the steadier of the two.
2. Extra epochs. The image head trains on the stored features, so one more epoch costs a pass
   over a small matrix and not a single photo through the conv base.
3. Peak memory. The extraction runs in a fresh process for a quarter of the catalogue and for
   all of it; since chunks stream to files, the peak resident memory should not grow with the
   number of photos. TensorFlow alone takes about a gigabyte, far more than a small catalogue's
   pixels, so on Linux the peak of the extraction alone is printed as well.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def make_catalogue(parent: Path, rows_per_class: int) -> tuple[Path, list[str], float]:
    """Write a synthetic catalogue without defects and list its photos.

    Args:
        parent: Folder to write the catalogue in.
        rows_per_class: Photos for each product type code.

    Returns:
        The catalogue folder, its photo paths in catalogue order and the seconds the writing
        took.
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
    return summary.root, read_catalogue(summary.root)["image_path"].tolist(), seconds


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


@dataclass(frozen=True)
class Timing:
    """Wall time and CPU time, over all of this process's threads, of one measured run."""

    wall: float
    cpu: float


class Stopwatch:
    """Measures wall and process CPU time from its creation."""

    def __init__(self) -> None:
        self.wall_start = time.perf_counter()
        self.cpu_start = time.process_time()

    def stop(self) -> Timing:
        """The time elapsed since the stopwatch was created."""
        return Timing(
            wall=time.perf_counter() - self.wall_start, cpu=time.process_time() - self.cpu_start
        )


def time_project(model: keras.Model, paths: list[str], size: int, out_dir: Path) -> Timing:
    """Time the project's extraction, from opening its output files to closing them.

    Args:
        model: The encoder.
        paths: Photo files.
        size: Side of the square photos.
        out_dir: Folder receiving ``pixels.npy`` and ``features.npy``.

    Returns:
        The time taken.
    """
    stopwatch = Stopwatch()
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
    timing = stopwatch.stop()
    if report.rejected:
        raise RuntimeError(f"the extraction rejected {report.rejected} photos of a clean sample")
    return timing


def time_bare(model: keras.Model, pixels: np.ndarray) -> tuple[Timing, np.ndarray]:
    """Time a bare forward pass over already decoded photos, in chunks.

    Args:
        model: The encoder.
        pixels: Decoded photos.

    Returns:
        The time taken and the features.
    """
    outputs = []
    stopwatch = Stopwatch()
    for start in range(0, len(pixels), CHUNK_SIZE):
        outputs.append(encode(model, pixels[start : start + CHUNK_SIZE]))
    timing = stopwatch.stop()
    return timing, np.concatenate(outputs)


def time_sequential(model: keras.Model, paths: list[str], size: int) -> Timing:
    """Time a loop that decodes a chunk in this thread and then encodes it."""
    stopwatch = Stopwatch()
    for start in range(0, len(paths), CHUNK_SIZE):
        chunk = np.stack([load_image(path, size) for path in paths[start : start + CHUNK_SIZE]])
        encode(model, chunk)
    return stopwatch.stop()


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

    # The first call of a Keras model on a batch shape traces a graph; no measurement should pay
    # for that, neither for full chunks nor for the shorter last one.
    encode(model, pixels[:CHUNK_SIZE])
    if count % CHUNK_SIZE:
        encode(model, pixels[: count % CHUNK_SIZE])

    timings: dict[str, list[Timing]] = {"project": [], "bare": [], "sequential": []}
    conv_base_images = 0
    bare_features = np.empty((0, FEATURE_DIM), dtype=np.float32)
    for round_number in range(1, ROUNDS + 1):
        before = ConvBaseCounter.images
        timings["project"].append(time_project(model, paths, size, work_dir))
        conv_base_images = ConvBaseCounter.images - before
        bare_timing, bare_features = time_bare(model, pixels)
        timings["bare"].append(bare_timing)
        timings["sequential"].append(time_sequential(model, paths, size))
        print(
            f"round {round_number}: "
            + ", ".join(
                f"{name} {runs[-1].wall:.2f} s (CPU {runs[-1].cpu:.2f} s)"
                for name, runs in timings.items()
            )
        )

    best = {name: min(runs, key=lambda timing: timing.wall) for name, runs in timings.items()}
    labels = {
        "project": "(a) project extract_features",
        "bare": "(b) bare VGG16 on decoded arrays",
        "sequential": "(c) sequential decode then encode",
    }
    for name, label in labels.items():
        print(
            f"{label}, best of {ROUNDS}: {rate(count, best[name].wall)} "
            f"(CPU {best[name].cpu:.2f} s)"
        )
    print(f"throughput ratio project / bare: {best['bare'].wall / best['project'].wall:.3f}")
    print(f"CPU-time ratio bare / project: {best['bare'].cpu / best['project'].cpu:.3f}")
    print(
        f"overlap gain project / sequential: {best['sequential'].wall / best['project'].wall:.3f}"
    )

    stored = np.load(work_dir / "features.npy")
    difference = float(np.max(np.abs(stored - bare_features)))
    print(f"stored features {stored.shape}, max |project - bare| = {difference:.2e}")
    return stored, best["project"].wall, conv_base_images


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


def memory_status_kib(field: str) -> int | None:
    """A memory figure of this process in KiB from ``/proc/self/status``, where there is one.

    Args:
        field: ``"VmRSS"`` for the resident memory now, ``"VmHWM"`` for its high-water mark.

    Returns:
        The figure, or ``None`` on systems without ``/proc``.
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def reset_peak_memory() -> bool:
    """Restart the high-water mark of resident memory from its current value, where Linux allows.

    Only ``VmHWM`` starts again: ``ru_maxrss`` also keeps the peaks recorded when threads exited.

    Returns:
        Whether the high-water mark was reset.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def child_extract(catalogue: Path, size: int, weights: str) -> None:
    """Extract the features of one catalogue in this process and print its memory as JSON.

    The peak of the whole process is dominated by TensorFlow and the encoder's first pass, so the
    peak of the extraction alone is measured too, from a high-water mark reset just before it.

    Args:
        catalogue: Catalogue folder.
        size: Side of the square photos.
        weights: VGG16 weights setting.
    """
    paths = read_catalogue(catalogue)["image_path"].tolist()
    model = build_encoder(size, weights).model
    encode(model, np.zeros((CHUNK_SIZE, size, size, 3), dtype=np.uint8))
    startup_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_before = memory_status_kib("VmRSS")
    was_reset = reset_peak_memory()

    with tempfile.TemporaryDirectory(prefix="bench_features_child_") as out_dir:
        seconds = time_project(model, paths, size, Path(out_dir)).wall
        output_bytes = sum(path.stat().st_size for path in Path(out_dir).iterdir())

    extraction_peak = memory_status_kib("VmHWM") if was_reset else None
    peak = max(
        startup_peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, extraction_peak or 0
    )
    result = {
        "images": len(paths),
        "seconds": seconds,
        "output_bytes": output_bytes,
        "startup_peak_kib": startup_peak,
        "peak_kib": peak,
        "rss_before_kib": rss_before,
        "extraction_peak_kib": extraction_peak,
    }
    print(json.dumps(result))


def run_child(catalogue: Path, size: int, weights: str) -> dict[str, Any]:
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


def mib(kib: float) -> str:
    """Format a KiB figure in MiB."""
    return f"{kib / KIB_PER_MIB:.1f} MiB"


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
            f"fresh process, {result['images']} images: peak RSS {mib(result['peak_kib'])} "
            f"({mib(result['startup_peak_kib'])} after import, encoder build and warm-up); "
            f"extraction {result['seconds']:.2f} s, "
            f"{result['output_bytes'] / 2**20:.1f} MiB written to .npy files"
        )
        if result["extraction_peak_kib"] is not None and result["rss_before_kib"] is not None:
            growth = result["extraction_peak_kib"] - result["rss_before_kib"]
            print(
                f"  during the extraction alone: peak RSS {mib(result['extraction_peak_kib'])}, "
                f"{mib(growth)} above the {mib(result['rss_before_kib'])} resident at its start"
            )

    small, large = results[0], results[-1]
    label = f"{large['images']} / {small['images']} images"
    print(f"peak RSS ratio {label}: {large['peak_kib'] / small['peak_kib']:.3f}")
    if small["extraction_peak_kib"] is not None and large["extraction_peak_kib"] is not None:
        ratio = large["extraction_peak_kib"] / small["extraction_peak_kib"]
        print(f"extraction-only peak RSS ratio {label}: {ratio:.3f}")
    extra_output = (large["output_bytes"] - small["output_bytes"]) / 2**10
    print(
        f"peak RSS difference {label}: {mib(large['peak_kib'] - small['peak_kib'])}, "
        f"against {mib(extra_output)} more written to files"
    )
    print(
        "the extraction streams pixels and features to .npy files, not to memory: only a few "
        f"chunks of {CHUNK_SIZE} photos are held at once, whatever the catalogue's size"
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
        catalogue, paths, generation_seconds = make_catalogue(work_dir, rows_per_class)
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
        small_catalogue = catalogue
        if small_rows_per_class < rows_per_class:
            small_catalogue, _, _ = make_catalogue(work_dir, small_rows_per_class)
        measure_memory([small_catalogue, catalogue], args.size, args.weights)


if __name__ == "__main__":
    main()
