"""Image-folder archives (babysit.data.archives): .tar.gz/.zip as the tree, what is skipped, damage."""

import os
import tarfile
import zipfile

import numpy as np
import pytest

from babysit.data import read_image_folder
from babysit.data.archives import is_archive, read_archive, read_tree, scan_tree
from babysit.errors import DataError

from .imagefiles import write_tree


@pytest.mark.parametrize("archive", ["small_targz", "small_zip"])
def test_archives_give_the_same_arrays_as_the_tree(small_tree, archive, request, tmp_path):
    X_tree, y_tree, names_tree, _ = read_image_folder(small_tree, cache_dir=tmp_path / "a")
    X, y, names, info = read_image_folder(request.getfixturevalue(archive), cache_dir=tmp_path / "b")
    assert names == names_tree and np.array_equal(y, y_tree) and np.array_equal(X, X_tree)
    assert info.images_decoded == len(y)


def test_empty_class_folder_inside_an_archive(tmp_path):
    root = write_tree(tmp_path / "f", {"cats": [(8, 8)] * 2, "dogs": [(8, 8)] * 2})
    (root / "owls").mkdir()
    archive = tmp_path / "f.tgz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(root, arcname="data")
    with pytest.raises(DataError, match=r"empty class folder .*data/owls"):
        read_image_folder(archive, cache_dir=tmp_path / "cache")


def test_truncated_archive(small_targz, tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(small_targz.read_bytes()[: small_targz.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cannot read archive .*broken.tar.gz: corrupted or truncated"):
        read_image_folder(broken, cache_dir=tmp_path / "cache")


def test_corrupted_zip(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04" + os.urandom(200))
    with pytest.raises(DataError, match=r"cannot read archive .*bad.zip"):
        read_image_folder(bad, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("mode, suffix", [("w:bz2", ".tar.bz2"), ("w:xz", ".txz"), ("w", ".tar")])
def test_every_tar_compression_reads_the_same_images(tmp_path, mode, suffix):
    root = write_tree(tmp_path / "f", {"cats": [(4, 4)] * 2, "dogs": [(4, 4)]})
    archive = tmp_path / f"f{suffix}"
    with tarfile.open(archive, mode) as tf:
        tf.add(root, arcname="f")
    blobs, dirs = read_archive(archive)
    assert sorted(blobs) == ["f/cats/000.png", "f/cats/001.png", "f/dogs/000.png"]
    assert blobs["f/dogs/000.png"] == (root / "dogs" / "000.png").read_bytes()
    assert dirs == {"f", "f/cats", "f/dogs"}


def test_unsafe_hidden_and_non_image_members_are_skipped(tmp_path):
    archive = tmp_path / "odd.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # no directory entries: parents are inferred
        for name in ("a/x.png", "b/y.JPG", "../escape.png", "/abs/z.png", ".hidden/h.png", "__MACOSX/a/._x.png",
                     "a/.DS_Store", "a/notes.txt", "c\\win.jpeg"):
            zf.writestr(name, b"bytes of " + name.encode())
    blobs, dirs = read_archive(archive)
    assert sorted(blobs) == ["a/x.png", "abs/z.png", "b/y.JPG", "c/win.jpeg"]
    assert dirs == {"a", "abs", "b", "c"}


def test_tree_listing_skips_hidden_entries_and_other_files(tmp_path):
    root = write_tree(tmp_path / "t", {"cats": [(4, 4)], ".cache": [(4, 4)]})
    (root / "cats" / "readme.md").write_text("not an image")
    (root / "cats" / ".thumb.png").write_bytes(b"hidden")
    files, dirs = scan_tree(root)
    assert files == ["cats/000.png"] and dirs == {"cats"}
    assert read_tree(root, files) == {"cats/000.png": (root / "cats" / "000.png").read_bytes()}
    with pytest.raises(DataError, match="cannot read image .*missing.png"):
        read_tree(root, ["cats/missing.png"])
    assert is_archive(tmp_path / "X.TGZ") and not is_archive(tmp_path / "x.gz")
