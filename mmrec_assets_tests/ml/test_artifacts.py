from datetime import UTC, datetime
from pathlib import Path

import pytest

import mmrec_assets.ml.artifacts as artifacts
from mmrec_assets.ml.artifacts import (
    CURRENT_FILE,
    KEPT_OLD_VERSIONS,
    VERSIONS_DIR,
    ArtifactNotFoundError,
    ArtifactStore,
    write_text_atomically,
)

NAME = "tables/split_sets"


class FixedClock:
    """Stands in for ``datetime`` in the store, answering ``now`` from a list of instants."""

    def __init__(self, instants: list[datetime]) -> None:
        self._instants = iter(instants)

    def now(self, tz=None) -> datetime:
        return next(self._instants)


def publish(store: ArtifactStore, text: str, name: str = NAME, tag: str = "") -> str:
    with store.write(name, tag=tag) as folder:
        (folder / "data.txt").write_text(text, encoding="utf-8")
    return store.current_version(name)


def version_names(store: ArtifactStore, name: str = NAME) -> list[str]:
    return sorted(path.name for path in (store.artifact_dir(name) / VERSIONS_DIR).iterdir())


def hidden_entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_written_files_are_read_back_through_the_current_path(tmp_path: Path):
    store = ArtifactStore(tmp_path)

    with store.write(NAME) as folder:
        assert folder.is_dir()
        assert list(folder.iterdir()) == []
        (folder / "data.txt").write_text("rows: 3", encoding="utf-8")
        (folder / "nested").mkdir()
        (folder / "nested" / "more.txt").write_text("more", encoding="utf-8")

    version = store.current_version(NAME)
    current = store.current_path(NAME)
    assert store.exists(NAME)
    assert current == tmp_path / "tables" / "split_sets" / VERSIONS_DIR / version
    assert (current / "data.txt").read_text(encoding="utf-8") == "rows: 3"
    assert (current / "nested" / "more.txt").read_text(encoding="utf-8") == "more"


def test_current_file_names_the_published_version(tmp_path: Path):
    store = ArtifactStore(tmp_path)

    version = publish(store, "one")

    pointer = store.artifact_dir(NAME) / CURRENT_FILE
    assert pointer.read_text(encoding="utf-8") == version + "\n"
    assert store.version_path(NAME, version) == store.current_path(NAME)


def test_each_write_publishes_a_new_version(tmp_path: Path):
    store = ArtifactStore(tmp_path)

    versions = [publish(store, text) for text in ["one", "two", "three"]]

    assert len(set(versions)) == 3
    assert store.current_version(NAME) == versions[-1]
    assert (store.current_path(NAME) / "data.txt").read_text(encoding="utf-8") == "three"
    assert (store.version_path(NAME, versions[0]) / "data.txt").read_text(encoding="utf-8") == "one"


def test_artifacts_are_kept_apart_by_name(tmp_path: Path):
    store = ArtifactStore(tmp_path)

    publish(store, "split", name="tables/split_sets")
    publish(store, "model", name="models/text")

    assert (store.current_path("tables/split_sets") / "data.txt").read_text(
        encoding="utf-8"
    ) == "split"
    assert (store.current_path("models/text") / "data.txt").read_text(encoding="utf-8") == "model"


def test_unwritten_artifact_is_not_found(tmp_path: Path):
    store = ArtifactStore(tmp_path)

    assert not store.exists(NAME)
    with pytest.raises(ArtifactNotFoundError, match="No artifact 'tables/split_sets'"):
        store.current_version(NAME)
    with pytest.raises(ArtifactNotFoundError):
        store.current_path(NAME)
    assert issubclass(ArtifactNotFoundError, FileNotFoundError)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_write_keeps_the_previous_version(tmp_path: Path, error: type[BaseException]):
    store = ArtifactStore(tmp_path)
    before = publish(store, "good")

    with pytest.raises(error):
        with store.write(NAME) as folder:
            (folder / "data.txt").write_text("half written", encoding="utf-8")
            raise error("stopped")

    assert store.current_version(NAME) == before
    assert (store.current_path(NAME) / "data.txt").read_text(encoding="utf-8") == "good"
    assert [p.name for p in store.current_path(NAME).iterdir()] == ["data.txt"]
    assert version_names(store) == [before]
    assert hidden_entries(store.artifact_dir(NAME)) == []


def test_failed_first_write_publishes_nothing(tmp_path: Path):
    store = ArtifactStore(tmp_path)

    with pytest.raises(ValueError, match="bad table"):
        with store.write(NAME) as folder:
            (folder / "data.txt").write_text("half written", encoding="utf-8")
            raise ValueError("bad table")

    assert not store.exists(NAME)
    assert version_names(store) == []
    assert hidden_entries(store.artifact_dir(NAME)) == []


def test_old_versions_are_pruned(tmp_path: Path):
    store = ArtifactStore(tmp_path)

    versions = [publish(store, f"v{i}") for i in range(6)]

    assert KEPT_OLD_VERSIONS == 2
    assert version_names(store) == versions[-(KEPT_OLD_VERSIONS + 1) :]
    assert store.current_version(NAME) == versions[-1]
    for version in versions[-(KEPT_OLD_VERSIONS + 1) :]:
        assert store.version_path(NAME, version).is_dir()
    assert hidden_entries(store.artifact_dir(NAME)) == []


def test_version_names_sort_chronologically(tmp_path: Path, monkeypatch):
    instants = [
        datetime(2023, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 0, 0, 0, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 0, 9, 0, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 0, 10, 0, tzinfo=UTC),
        datetime(2024, 10, 1, 9, 0, 0, 0, tzinfo=UTC),
    ]
    monkeypatch.setattr(artifacts, "datetime", FixedClock(instants))
    store = ArtifactStore(tmp_path)

    versions = [publish(store, str(i), tag="run") for i in range(len(instants))]

    assert versions[0] == "20231231T235959999999Z-run"
    assert versions == sorted(versions)
    assert version_names(store) == versions[-(KEPT_OLD_VERSIONS + 1) :]


def test_tag_is_shortened_to_twelve_characters(tmp_path: Path):
    store = ArtifactStore(tmp_path)

    version = publish(store, "tagged", tag="0123456789abcdef")

    assert version.endswith("Z-0123456789ab")


def test_write_text_atomically_replaces_the_content(tmp_path: Path):
    path = tmp_path / "CURRENT"

    write_text_atomically(path, "first\n")
    write_text_atomically(path, "é second\n")

    assert path.read_text(encoding="utf-8") == "é second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["CURRENT"]


def test_failed_atomic_write_leaves_no_temporary_file(tmp_path: Path):
    path = tmp_path / "CURRENT"
    write_text_atomically(path, "first\n")

    with pytest.raises(UnicodeEncodeError):
        write_text_atomically(path, "lone surrogate \udc80")

    assert path.read_text(encoding="utf-8") == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["CURRENT"]
