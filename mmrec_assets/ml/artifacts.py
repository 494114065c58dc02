"""Versioned, crash-safe storage of artifacts under one folder.

Every artifact (a table, a model, a set of arrays) lives in a folder of its own:

    <root>/<name>/versions/<version>/...   the files of each written version
    <root>/<name>/CURRENT                  the name of the version readers should use

A new version is written into a temporary folder, renamed into ``versions/`` once complete, and
only then published by replacing ``CURRENT`` atomically. A crash at any point leaves the previous
version readable. The two newest versions before the current one are kept, so a reader that
started before a publish can finish.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"
KEPT_OLD_VERSIONS = 2


class ArtifactNotFoundError(FileNotFoundError):
    """Raised when an artifact has never been written under the storage folder."""


def write_text_atomically(path: Path, text: str) -> None:
    """Write a small text file so that readers see either the old or the new content.

    Args:
        path: Destination file.
        text: Content to write.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ArtifactStore:
    """A folder of versioned artifacts, each published atomically."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def artifact_dir(self, name: str) -> Path:
        """Folder holding every version of the artifact ``name``."""
        return self.root / name

    def current_version(self, name: str) -> str:
        """Name of the published version of ``name``.

        Raises:
            ArtifactNotFoundError: When nothing was ever published under that name.
        """
        pointer = self.artifact_dir(name) / CURRENT_FILE
        if not pointer.exists():
            raise ArtifactNotFoundError(
                f"No artifact '{name}' under {self.root}: materialize it first."
            )
        return pointer.read_text(encoding="utf-8").strip()

    def current_path(self, name: str) -> Path:
        """Folder of the published version of ``name``."""
        return self.version_path(name, self.current_version(name))

    def version_path(self, name: str, version: str) -> Path:
        """Folder of one version of ``name``."""
        return self.artifact_dir(name) / VERSIONS_DIR / version

    def exists(self, name: str) -> bool:
        """Whether a version of ``name`` has been published."""
        return (self.artifact_dir(name) / CURRENT_FILE).exists()

    @contextmanager
    def write(self, name: str, tag: str = "") -> Iterator[Path]:
        """Yield an empty folder to fill; publish it as the new version when the block succeeds.

        Args:
            name: Artifact name (a relative path such as ``"tables/split_sets"``).
            tag: Optional suffix for the version name, such as a run id.

        Yields:
            The temporary folder to write the version's files into.
        """
        base = self.artifact_dir(name)
        versions = base / VERSIONS_DIR
        versions.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        version = f"{stamp}-{tag[:12]}" if tag else stamp
        staging = base / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            yield staging
            os.replace(staging, versions / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        write_text_atomically(base / CURRENT_FILE, version + "\n")
        self._prune(name, keep=version)

    def _prune(self, name: str, keep: str) -> None:
        versions = sorted(
            p for p in (self.artifact_dir(name) / VERSIONS_DIR).iterdir() if p.is_dir()
        )
        older = [p for p in versions if p.name != keep]
        for stale in older[: max(0, len(older) - KEPT_OLD_VERSIONS)]:
            shutil.rmtree(stale, ignore_errors=True)
