"""Small helpers turning tables into metadata a person reads in the Dagster UI."""

import base64

import pandas as pd
from dagster import MetadataValue


def markdown_table(table: pd.DataFrame, index: bool = False) -> MetadataValue:
    """A table as markdown metadata, cells cut to 80 characters."""
    shown = table.copy()
    for column in shown.columns:
        if shown[column].dtype == object:
            shown[column] = shown[column].astype(str).str.slice(0, 80)
    return MetadataValue.md(shown.to_markdown(index=index))


def counts_table(values: pd.Series, label: str) -> MetadataValue:
    """Counts of each distinct value, most frequent first."""
    counts = values.value_counts().rename_axis(label).reset_index(name="rows")
    return markdown_table(counts)


def png_markdown(png: bytes, caption: str) -> MetadataValue:
    """A PNG picture embedded in markdown metadata, so the UI shows it inline."""
    encoded = base64.b64encode(png).decode("ascii")
    return MetadataValue.md(f"![{caption}](data:image/png;base64,{encoded})")
