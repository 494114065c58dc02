"""Measure the throughput of product text preprocessing on the Rakuten sample.

The sample's rows are repeated until there are enough of them for a stable timing. "Cold" starts
with an empty stem cache, as a fresh process does; "warm" runs again with the cache filled, as
every batch after the first does. Because the rows repeat, the cold run fills the cache on its
first pass over the sample and is warm afterwards, so it shows the cost of a vocabulary the size
of the sample's, not of the whole catalogue.

Usage:
    .venv/bin/python benchmarks/bench_text.py [--data DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import pandas as pd

# Run as a script from a checkout, where the package is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmrec_assets.ml.text import preprocess_texts, stem_word

DEFAULT_DATA_DIR = Path("/work/shared/data/rakuten_sample")
MIN_ROWS = 20_000
WARM_RUNS = 3


def parse_args() -> argparse.Namespace:
    """Read the command line.

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder holding X.csv (default: {DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help=f"times to repeat the sample (default: enough for {MIN_ROWS:,} rows)",
    )
    return parser.parse_args()


def load_texts(data_dir: Path) -> pd.DataFrame:
    """Read the designation and description columns of the sample.

    Args:
        data_dir: Folder holding X.csv.

    Returns:
        The two text columns, one row per product.
    """
    path = data_dir / "X.csv"
    if not path.is_file():
        sys.exit(f"bench_text: {path} not found; pass --data with the folder holding X.csv")
    return pd.read_csv(path, index_col=0)[["designation", "description"]]


def time_run(designations: list, descriptions: list) -> tuple[float, list[str]]:
    """Preprocess all rows once.

    Args:
        designations: Product titles.
        descriptions: Product descriptions.

    Returns:
        The seconds taken and the preprocessed texts.
    """
    start = time.perf_counter()
    texts = preprocess_texts(designations, descriptions)
    return time.perf_counter() - start, texts


def main() -> None:
    """Run the benchmark and print its figures."""
    args = parse_args()
    sample = load_texts(args.data)
    if sample.empty:
        sys.exit(f"bench_text: {args.data / 'X.csv'} has no rows")

    repeat = args.repeat if args.repeat is not None else math.ceil(MIN_ROWS / len(sample))
    if repeat < 1:
        sys.exit("bench_text: --repeat must be at least 1")
    designations = sample["designation"].tolist() * repeat
    descriptions = sample["description"].tolist() * repeat
    rows = len(designations)

    stem_word.cache_clear()
    cold_seconds, texts = time_run(designations, descriptions)
    vocabulary = stem_word.cache_info().currsize

    # The best of several warm runs is the least disturbed by the rest of the machine.
    warm_seconds = min(time_run(designations, descriptions)[0] for _ in range(WARM_RUNS))

    tokens = [len(text.split()) for text in texts]
    empty_description = sample["description"].isna() | (
        sample["description"].fillna("").str.strip() == ""
    )

    print(f"sample rows: {len(sample)}")
    print(f"rows timed: {rows} ({repeat} x sample)")
    print(f"cold: {rows / cold_seconds:,.0f} rows/s ({cold_seconds:.2f} s, fresh stem cache)")
    print(f"warm: {rows / warm_seconds:,.0f} rows/s ({warm_seconds:.2f} s, best of {WARM_RUNS})")
    print(f"distinct words stemmed: {vocabulary}")
    print(f"tokens per row: mean {sum(tokens) / rows:.1f}, max {max(tokens)}")
    print(f"rows with no token left: {sum(n == 0 for n in tokens) / rows:.1%}")
    print(f"rows with empty description: {empty_description.mean():.1%}")


if __name__ == "__main__":
    main()
