"""Image folders: the class level, the decode cache and its key, bad layouts.

Archives: test_archives.py; decoding and the worker pool: test_decode.py.
"""

import shutil
import warnings

import numpy as np
import pytest

from babysit.data import image_folder, load_source, read_image_folder
from babysit.errors import DataError

from .conftest import CIFAR10_CLASSES, PER_CLASS
from .imagefiles import decode_file, write_tree


def test_tree_decodes_in_cifar_label_order(small_tree, tmp_path):
    X, y, names, info = read_image_folder(small_tree, cache_dir=tmp_path)
    assert names == CIFAR10_CLASSES  # sorted folder names reproduce the CIFAR-10 order
    assert X.shape == (10 * PER_CLASS, 3, 32, 32) and X.dtype == np.uint8 and X.flags.c_contiguous
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [PER_CLASS] * 10
    # Class, then file name order: row 21 is automobile/0001.jpg.
    assert y[PER_CLASS + 1] == 1
    assert np.array_equal(X[PER_CLASS + 1], decode_file(small_tree / "train/automobile/0001.jpg"))
    assert np.array_equal(X[-1], decode_file(small_tree / "train/truck/0019.jpg"))
    assert not info.cache_hit and info.images_decoded == 10 * PER_CLASS


def test_second_load_reads_the_cache_and_decodes_nothing(small_targz, tmp_path):
    X1, y1, names1, first = read_image_folder(small_targz, cache_dir=tmp_path)
    assert not first.cache_hit and first.images_decoded == 200 and first.cache_file.parent == tmp_path
    mtime = first.cache_file.stat().st_mtime_ns
    X2, y2, names2, second = read_image_folder(small_targz, cache_dir=tmp_path)
    assert second.cache_hit and second.images_decoded == 0 and second.cache_file == first.cache_file
    assert first.cache_file.stat().st_mtime_ns == mtime  # not rewritten
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2) and names1 == names2
    # The cache is a plain .npz: readable without pickle.
    with np.load(first.cache_file, allow_pickle=False) as npz:
        assert npz["X"].shape == (200, 3, 32, 32) and list(npz["class_names"]) == CIFAR10_CLASSES


def test_cache_key_follows_the_content(small_tree, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(small_tree, tree)
    _, _, _, first = read_image_folder(tree, cache_dir=tmp_path / "cache")
    _, _, _, same = read_image_folder(tree, cache_dir=tmp_path / "cache")
    assert same.cache_hit
    # Replace one image with another one's bytes: new content, new cache entry.
    shutil.copyfile(tree / "train/cat/0001.jpg", tree / "train/cat/0000.jpg")
    X, _, _, changed = read_image_folder(tree, cache_dir=tmp_path / "cache")
    assert not changed.cache_hit and changed.cache_file != first.cache_file
    assert np.array_equal(X[3 * PER_CLASS], X[3 * PER_CLASS + 1])


def test_cache_keys_are_those_earlier_versions_wrote(tmp_path):
    """A changed key would make every user's folder decode again once: keep the salt and layout."""
    tree_key = image_folder._hash_tree({"cats/0.png": b"abc", "dogs/1.png": b"de"})
    assert tree_key == "c88766b775422f7e83e22774f62e597745443b7a36619e4550faca05fc72a6d7"
    (tmp_path / "fake.tar").write_bytes(b"not really a tarball")
    archive_key = image_folder._hash_file(tmp_path / "fake.tar")
    assert archive_key == "fea062cb190cc8f4d69e099352a233159b7cd80a03e932f6afbfd68f94b7bce0"


def test_damaged_cache_file_is_rebuilt(small_zip, tmp_path):
    X, _, _, first = read_image_folder(small_zip, cache_dir=tmp_path)
    first.cache_file.write_bytes(first.cache_file.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="damaged cache file"):
        X2, _, _, again = read_image_folder(small_zip, cache_dir=tmp_path)
    assert not again.cache_hit and np.array_equal(X, X2)
    assert read_image_folder(small_zip, cache_dir=tmp_path)[3].cache_hit


def test_cache_dir_defaults_to_babysit_cache_env(small_zip, tmp_path, monkeypatch):
    monkeypatch.setenv("BABYSIT_CACHE", str(tmp_path / "envcache"))
    _, _, _, info = read_image_folder(small_zip)
    assert info.cache_file.parent == tmp_path / "envcache" and info.cache_file.exists()


def test_load_source_folder_splits(small_targz, tmp_path):
    d = load_source(f"folder:{small_targz}", cache_dir=tmp_path)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (160, 20, 20)
    assert np.bincount(d.y_val).tolist() == [2] * 10 and np.bincount(d.y_test).tolist() == [2] * 10
    assert d.class_names == CIFAR10_CLASSES and d.input_shape == (3, 32, 32)
    assert d.X_train.dtype == np.uint8


def test_png_tree_without_a_wrapper_folder(tmp_path):
    root = write_tree(tmp_path / "pngs", {"b_class": [(5, 4)] * 3, "a_class": [(5, 4)] * 2})
    X, y, names, _ = read_image_folder(root, cache_dir=tmp_path / "cache")
    assert names == ["a_class", "b_class"] and y.tolist() == [0, 0, 1, 1, 1]
    assert X.shape == (5, 3, 4, 5)
    assert np.array_equal(X[2], decode_file(root / "b_class/000.png"))


def test_empty_class_folder(tmp_path):
    root = write_tree(tmp_path / "f", {"cats": [(8, 8)] * 2, "dogs": [(8, 8)] * 2})
    (root / "zebras").mkdir()
    (root / "zebras" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"empty class folder .*zebras: no .jpg/.jpeg/.png images"):
        read_image_folder(root, cache_dir=tmp_path / "cache")


def test_a_single_class_is_refused(tmp_path):
    root = write_tree(tmp_path / "one", {"cats": [(8, 8)] * 3})
    with pytest.raises(DataError, match=r"1 class folder\(s\) \['cats'\]; an image folder needs at least 2"):
        read_image_folder(root, cache_dir=tmp_path / "cache")


def test_a_folder_without_images_is_refused(tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match=r"0 class folder\(s\)"):
        read_image_folder(tmp_path / "nothing", cache_dir=tmp_path / "cache")


def test_one_level_too_high_is_explained(tmp_path):
    root = tmp_path / "split"
    write_tree(root / "train", {"cats": [(8, 8)], "dogs": [(8, 8)]})
    write_tree(root / "test", {"cats": [(8, 8)], "dogs": [(8, 8)]})
    with pytest.raises(DataError, match=r"empty class folder .*test.*sub-folders \['cats', 'dogs'\]"):
        read_image_folder(root, cache_dir=tmp_path / "cache")


def test_missing_path_and_wrong_file_type(tmp_path):
    with pytest.raises(DataError, match=r"image folder not found: .*absent"):
        load_source(f"folder:{tmp_path / 'absent'}", cache_dir=tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"must be a directory or an archive"):
        load_source(f"folder:{tmp_path / 'notes.txt'}", cache_dir=tmp_path)


def test_unwritable_cache_only_warns(small_zip, tmp_path):
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X, _, _, info = read_image_folder(small_zip, cache_dir=blocker / "sub")
    assert X.shape[0] == 200 and not info.cache_hit
    assert any("cannot write cache file" in str(w.message) for w in caught)


@pytest.mark.slow
def test_full_cifar10_jpeg_tarball(jpeg_tarball, tmp_path):
    """All 50,000 training JPEGs: 5,000 per class; the second load comes from the cache."""
    X, y, names, info = read_image_folder(jpeg_tarball, cache_dir=tmp_path)
    assert X.shape == (50000, 3, 32, 32) and names == CIFAR10_CLASSES
    assert np.bincount(y).tolist() == [5000] * 10 and info.images_decoded == 50000
    X2, y2, _, again = read_image_folder(jpeg_tarball, cache_dir=tmp_path)
    assert again.cache_hit and again.images_decoded == 0
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    d = load_source(f"folder:{jpeg_tarball}", cache_dir=tmp_path, val_fraction=1000, test_fraction=1000)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (48000, 1000, 1000)
