"""Incoming batches of products: a landing folder with one sub-folder per batch.

A batch folder holds ``X.csv`` and ``images/`` in the challenge layout, optionally ``Y.csv``
when it is labelled, and the marker file ``_READY``. The marker is written last, once everything
else is in place, so a batch still being copied is never read half-done. Folder names become
Dagster partition keys and storage paths, so only short ASCII names of letters, digits, ``.``,
``_`` and ``-`` are accepted.
"""

from __future__ import annotations

import base64
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

READY_MARKER = "_READY"
MAX_NAME_LENGTH = 64
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CURSOR_PREFIX = "v1:"


@dataclass(frozen=True)
class LandingScan:
    """What a landing folder holds right now.

    Attributes:
        complete: Names of complete batches with a safe name, sorted.
        labelled: The subset of ``complete`` that has a labels file.
        incomplete: Names of safe batch folders without the marker yet.
        refused: Unsafe folder names and why each is refused.
    """

    complete: list[str] = field(default_factory=list)
    labelled: set[str] = field(default_factory=set)
    incomplete: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def name_problem(name: str) -> str | None:
    """Why a folder name cannot be a batch name, or ``None`` when it can."""
    if len(name) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} characters"
    if not name.isascii():
        return "not ASCII"
    if ".." in name:
        return "contains '..'"
    if not SAFE_NAME.fullmatch(name):
        return "only letters, digits, '.', '_' and '-' are allowed, starting with a letter or digit"
    return None


def scan_landing(landing: Path, labels_file: str = "Y.csv") -> LandingScan:
    """List the batch folders of a landing folder; a missing landing folder holds none.

    Files at the top of the landing folder and hidden folders (starting with ``.``, as copy
    tools use for temporary names) are not batches and are ignored.
    """
    scan = LandingScan()
    if not landing.is_dir():
        return scan

    with os.scandir(landing) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            problem = name_problem(entry.name)
            if problem:
                scan.refused[entry.name] = problem
            elif os.path.exists(os.path.join(entry.path, READY_MARKER)):
                scan.complete.append(entry.name)
                if os.path.exists(os.path.join(entry.path, labels_file)):
                    scan.labelled.add(entry.name)
            else:
                scan.incomplete.append(entry.name)
    scan.complete.sort()
    scan.incomplete.sort()
    return scan


@dataclass
class BatchCursor:
    """The sensor's memory: batches already requested and unsafe names already reported."""

    requested: set[str] = field(default_factory=set)
    reported: set[str] = field(default_factory=set)

    def encode(self) -> str:
        """A compact string (names compressed) that stays small for many thousands of batches."""
        text = "\n".join(sorted(self.requested)) + "\0" + "\n".join(sorted(self.reported))
        packed = base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")
        return CURSOR_PREFIX + packed

    @classmethod
    def decode(cls, cursor: str | None) -> BatchCursor:
        """Read a cursor written by :meth:`encode`; an empty or reset cursor remembers nothing."""
        if not cursor:
            return cls()
        if not cursor.startswith(CURSOR_PREFIX):
            raise ValueError(f"Unrecognised batch sensor cursor: {cursor[:40]!r}")
        text = zlib.decompress(base64.b64decode(cursor[len(CURSOR_PREFIX) :])).decode("utf-8")
        requested, reported = text.split("\0")
        return cls(
            requested=set(filter(None, requested.split("\n"))),
            reported=set(filter(None, reported.split("\n"))),
        )
