"""Fixtures for the data tests: small image folders cut from the shared CIFAR-10 JPEG tarball."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest

PER_CLASS = 20
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="session")
def jpeg_tarball(shared_data: Path) -> Path:
    return shared_data / "cifar10-train-jpeg.tar.gz"


@pytest.fixture(scope="session")
def cifar_sample_dir(shared_data: Path) -> Path:
    path = shared_data / "cifar-10-batches-py-sample"
    if not path.is_dir():
        pytest.skip(f"CIFAR-10 format fixture not found at {path}")
    return path


def fixture_row_jpegs(cifar_sample_dir: Path, rows: int = 20) -> list[str]:
    """Tarball member names of the JPEGs the first ``rows`` rows of data_batch_1 came from."""
    from babysit.data import safe_unpickle_file

    names = safe_unpickle_file(cifar_sample_dir / "data_batch_1")["filenames"][:rows]
    members = []
    for filename in names:  # e.g. train_automobile_4913.jpg -> train/automobile/4913.jpg
        split, cls, number = Path(filename).stem.split("_")
        members.append(f"{split}/{cls}/{number}.jpg")
    return members


@pytest.fixture(scope="session")
def tarball_subset(jpeg_tarball: Path, cifar_sample_dir: Path) -> dict[str, bytes]:
    """Bytes of the first 20 JPEGs of each class and of the JPEGs behind data_batch_1's first rows.

    One pass over the 16 MB tarball (about 1.5 s), shared by the session.
    """
    wanted = set(fixture_row_jpegs(cifar_sample_dir))
    counts: dict[str, int] = {}
    subset: dict[str, bytes] = {}
    with tarfile.open(jpeg_tarball, "r:gz") as tf:
        for member in tf:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3:
                continue
            first = counts.get(parts[1], 0) < PER_CLASS
            if first:
                counts[parts[1]] = counts.get(parts[1], 0) + 1
            if first or member.name in wanted:
                subset[member.name] = tf.extractfile(member).read()
    assert sorted(counts) == CIFAR10_CLASSES and set(counts.values()) == {PER_CLASS}
    return subset


@pytest.fixture(scope="session")
def small_tree(tarball_subset: dict[str, bytes], tmp_path_factory) -> Path:
    """An image-folder tree ``train/<class>/NNNN.jpg`` with the first 20 images of each class.

    Built once per session; tests must not modify it (copy it first).
    """
    root = tmp_path_factory.mktemp("cifar_small")
    for name, data in tarball_subset.items():
        if int(Path(name).stem) < PER_CLASS:  # files are numbered 0000..4999 per class
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return root


@pytest.fixture(scope="session")
def small_targz(small_tree: Path, tmp_path_factory) -> Path:
    """``small_tree`` packed as a .tar.gz with the top-level ``train/`` dir, like the real tarball."""
    path = tmp_path_factory.mktemp("archives") / "small.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        tf.add(small_tree / "train", arcname="train")
    return path


@pytest.fixture(scope="session")
def small_zip(small_tree: Path, tmp_path_factory) -> Path:
    """``small_tree``'s class folders packed as a .zip (classes at the top level, files only)."""
    path = tmp_path_factory.mktemp("archives") / "small.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted((small_tree / "train").rglob("*.jpg")):
            zf.write(f, f.relative_to(small_tree / "train").as_posix())
    return path
