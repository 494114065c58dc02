"""Where the catalogue comes from and where every artifact goes."""

from __future__ import annotations

import logging
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from mmrec_assets.ml.artifacts import ArtifactStore
from mmrec_assets.ml.catalogue import CatalogueLayout

logger = logging.getLogger(__name__)

BUILTIN_SAMPLE_DIR = "builtin_sample"
BUILTIN_IMAGE_SIZE = 64
REAL_IMAGE_SIZE = 224


class StorageFolder(ConfigurableResource):
    """The one folder holding every table, array and model the project writes."""

    path: str = Field(description="Folder for all artifacts; created when missing.")

    def store(self) -> ArtifactStore:
        root = Path(self.path).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        return ArtifactStore(root)


class CatalogueSource(ConfigurableResource):
    """A labelled catalogue in the challenge layout, plus a folder of unlabelled products.

    An empty ``data_dir`` selects the built-in sample, generated on first use under the storage
    folder.
    """

    data_dir: str = Field(
        default="",
        description="Catalogue folder (X.csv, Y.csv, images/); empty for the built-in sample.",
    )
    x_file: str = Field(default="X.csv", description="Products file, relative to data_dir.")
    y_file: str = Field(default="Y.csv", description="Labels file, relative to data_dir.")
    images_dir: str = Field(default="images", description="Photo folder, relative to data_dir.")
    unlabelled_dir: str = Field(
        default="unlabelled",
        description="Folder of unlabelled products to predict (X.csv and images/), relative to "
        "data_dir or absolute; predictions are empty when it does not exist.",
    )
    sample_rows_per_class: int = Field(
        default=40, description="Labelled rows per class when generating the built-in sample."
    )

    @property
    def is_builtin(self) -> bool:
        return not self.data_dir.strip()

    @property
    def layout(self) -> CatalogueLayout:
        return CatalogueLayout(x_file=self.x_file, y_file=self.y_file, images_dir=self.images_dir)

    @property
    def default_image_size(self) -> int:
        """Photo size used when none is configured: small for the built-in sample."""
        return BUILTIN_IMAGE_SIZE if self.is_builtin else REAL_IMAGE_SIZE

    def root(self, storage: StorageFolder) -> Path:
        """The catalogue folder, generating the built-in sample when it is selected and absent."""
        if not self.is_builtin:
            return Path(self.data_dir).expanduser().resolve()

        folder = (
            storage.store().root / BUILTIN_SAMPLE_DIR / f"{self.sample_rows_per_class}_per_class"
        )
        if not folder.exists():
            from mmrec_assets.ml.sample import generate_sample

            logger.info("Generating the built-in sample under %s", folder)
            folder.parent.mkdir(parents=True, exist_ok=True)
            try:
                generate_sample(folder, rows_per_class=self.sample_rows_per_class)
            except OSError:
                # Another run may have finished generating it first; anything else is an error.
                if not folder.exists():
                    raise
        return folder

    def unlabelled_root(self, storage: StorageFolder) -> Path:
        """The folder of unlabelled products (it may not exist)."""
        return self.root(storage) / Path(self.unlabelled_dir).expanduser()


class LandingFolder(ConfigurableResource):
    """The folder where new batches of products arrive, one sub-folder per batch."""

    path: str = Field(description="Landing folder; each complete batch holds a _READY marker.")
    max_batches_per_tick: int = Field(
        default=200, ge=1, description="New batches the sensor registers per tick at most."
    )

    def root(self) -> Path:
        return Path(self.path).expanduser().resolve()
