"""A saved Keras model together with its class order and settings, as plain files.

Keras is imported only to load a model, so the file names and the JSON can be read without it.

A bundle folder holds ``model.keras`` and ``model.json``; the JSON names the prdtypecode of each
output column, so a model never needs a separately kept label encoder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

MODEL_FILE = "model.keras"
INFO_FILE = "model.json"


@dataclass
class ModelBundle:
    """A model, the prdtypecode of each of its output columns, and facts about how it was made.

    Attributes:
        model: The Keras model.
        class_codes: ``class_codes[i]`` is the prdtypecode of output column ``i``.
        info: JSON-compatible facts: settings, scores, weights source, version.
    """

    model: keras.Model
    class_codes: list[int]
    info: dict[str, Any] = field(default_factory=dict)


def save_bundle(bundle: ModelBundle, folder: Path) -> None:
    """Write the bundle's two files into ``folder``."""
    bundle.model.save(folder / MODEL_FILE)
    payload = {"class_codes": [int(code) for code in bundle.class_codes], "info": bundle.info}
    (folder / INFO_FILE).write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")


def load_bundle(folder: Path) -> ModelBundle:
    """Read a bundle written by :func:`save_bundle`."""
    import keras

    payload = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
    model = keras.models.load_model(folder / MODEL_FILE)
    return ModelBundle(model=model, class_codes=payload["class_codes"], info=payload["info"])
