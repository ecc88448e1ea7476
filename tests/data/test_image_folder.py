"""Image folders: trees, .tar.gz and .zip archives, the decode cache, and bad layouts."""

import io
import os
import shutil
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from babysit.data import image_folder, load_source, read_image_folder
from babysit.errors import DataError

from .conftest import CIFAR10_CLASSES, PER_CLASS


def _decode(path: Path) -> np.ndarray:
    """An independent decode of one image file to (3, H, W)."""
    return np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)


def _tree(root: Path, classes: dict[str, list[tuple[int, int]]], fmt: str = "PNG") -> Path:
    """Write a tree root/CLASS/i.png with images of the given (width, height) sizes."""
    rng = np.random.default_rng(0)
    for cls, sizes in classes.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i, (w, h) in enumerate(sizes):
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i:03d}.{fmt.lower()}", fmt)
    return root


def test_tree_decodes_in_cifar_label_order(small_tree, tmp_path):
    X, y, names, info = read_image_folder(small_tree, cache_dir=tmp_path)
    assert names == CIFAR10_CLASSES  # sorted folder names reproduce the CIFAR-10 order
    assert X.shape == (10 * PER_CLASS, 3, 32, 32) and X.dtype == np.uint8 and X.flags.c_contiguous
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [PER_CLASS] * 10
    # Class, then file name order: row 21 is automobile/0001.jpg.
    assert y[PER_CLASS + 1] == 1
    assert np.array_equal(X[PER_CLASS + 1], _decode(small_tree / "train/automobile/0001.jpg"))
    assert np.array_equal(X[-1], _decode(small_tree / "train/truck/0019.jpg"))
    assert not info.cache_hit and info.images_decoded == 10 * PER_CLASS


@pytest.mark.parametrize("archive", ["small_targz", "small_zip"])
def test_archives_give_the_same_arrays_as_the_tree(small_tree, archive, request, tmp_path):
    X_tree, y_tree, names_tree, _ = read_image_folder(small_tree, cache_dir=tmp_path / "a")
    X, y, names, info = read_image_folder(request.getfixturevalue(archive), cache_dir=tmp_path / "b")
    assert names == names_tree and np.array_equal(y, y_tree) and np.array_equal(X, X_tree)
    assert info.images_decoded == len(y)


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


def test_parallel_decode_matches_in_process_decode(small_tree, tmp_path, monkeypatch):
    monkeypatch.setattr(image_folder, "CHUNK_IMAGES", 30)  # 200 images -> 7 chunks -> a process pool
    X1, y1, _, _ = read_image_folder(small_tree, cache_dir=tmp_path / "one", workers=1)
    X2, y2, _, _ = read_image_folder(small_tree, cache_dir=tmp_path / "two", workers=2)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)


def test_load_source_folder_splits(small_targz, tmp_path):
    d = load_source(f"folder:{small_targz}", cache_dir=tmp_path)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (160, 20, 20)
    assert np.bincount(d.y_val).tolist() == [2] * 10 and np.bincount(d.y_test).tolist() == [2] * 10
    assert d.class_names == CIFAR10_CLASSES and d.input_shape == (3, 32, 32)
    assert d.X_train.dtype == np.uint8


def test_png_tree_without_a_wrapper_folder(tmp_path):
    root = _tree(tmp_path / "pngs", {"b_class": [(5, 4)] * 3, "a_class": [(5, 4)] * 2})
    X, y, names, _ = read_image_folder(root, cache_dir=tmp_path / "cache")
    assert names == ["a_class", "b_class"] and y.tolist() == [0, 0, 1, 1, 1]
    assert X.shape == (5, 3, 4, 5)
    assert np.array_equal(X[2], _decode(root / "b_class/000.png"))


def test_grayscale_and_rgba_images_become_rgb(tmp_path):
    root = tmp_path / "modes"
    for cls, mode in (("gray", "L"), ("rgba", "RGBA")):
        (root / cls).mkdir(parents=True)
        Image.new(mode, (4, 4), 200 if mode == "L" else (10, 20, 30, 40)).save(root / cls / "x.png")
    X, _, _, _ = read_image_folder(root, cache_dir=tmp_path / "cache")
    assert X.shape == (2, 3, 4, 4)
    assert X[0, :, 0, 0].tolist() == [200, 200, 200] and X[1, :, 0, 0].tolist() == [10, 20, 30]


# ---------------------------------------------------------------- bad input


def test_mixed_sizes_name_two_files_and_their_sizes(tmp_path):
    root = _tree(tmp_path / "mixed", {"cats": [(32, 32)] * 3, "dogs": [(32, 32), (28, 24)]})
    with pytest.raises(DataError) as info:
        read_image_folder(root, cache_dir=tmp_path / "cache", workers=1)
    msg = str(info.value)
    assert "images of mixed sizes" in msg and "\n" not in msg
    assert "cats/000.png is 32x32" in msg and "dogs/001.png is 28x24" in msg


def test_mixed_sizes_across_parallel_chunks(small_tree, tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    shutil.copytree(small_tree, tree)
    Image.open(tree / "train/ship/0005.jpg").resize((30, 31)).save(tree / "train/ship/0005.jpg")
    monkeypatch.setattr(image_folder, "CHUNK_IMAGES", 30)
    with pytest.raises(DataError, match=r"airplane/0000.jpg is 32x32 but .*ship/0005.jpg is 30x31"):
        read_image_folder(tree, cache_dir=tmp_path / "cache", workers=2)


def test_empty_class_folder(tmp_path):
    root = _tree(tmp_path / "f", {"cats": [(8, 8)] * 2, "dogs": [(8, 8)] * 2})
    (root / "zebras").mkdir()
    (root / "zebras" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"empty class folder .*zebras: no .jpg/.jpeg/.png images"):
        read_image_folder(root, cache_dir=tmp_path / "cache")


def test_empty_class_folder_inside_an_archive(tmp_path):
    root = _tree(tmp_path / "f", {"cats": [(8, 8)] * 2, "dogs": [(8, 8)] * 2})
    (root / "owls").mkdir()
    archive = tmp_path / "f.tgz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(root, arcname="data")
    with pytest.raises(DataError, match=r"empty class folder .*data/owls"):
        read_image_folder(archive, cache_dir=tmp_path / "cache")


def test_a_single_class_is_refused(tmp_path):
    root = _tree(tmp_path / "one", {"cats": [(8, 8)] * 3})
    with pytest.raises(DataError, match=r"1 class folder\(s\) \['cats'\]; an image folder needs at least 2"):
        read_image_folder(root, cache_dir=tmp_path / "cache")


def test_a_folder_without_images_is_refused(tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match=r"0 class folder\(s\)"):
        read_image_folder(tmp_path / "nothing", cache_dir=tmp_path / "cache")


def test_one_level_too_high_is_explained(tmp_path):
    root = tmp_path / "split"
    _tree(root / "train", {"cats": [(8, 8)], "dogs": [(8, 8)]})
    _tree(root / "test", {"cats": [(8, 8)], "dogs": [(8, 8)]})
    with pytest.raises(DataError, match=r"empty class folder .*test.*sub-folders \['cats', 'dogs'\]"):
        read_image_folder(root, cache_dir=tmp_path / "cache")


def test_undecodable_image_is_named(tmp_path):
    root = _tree(tmp_path / "bad", {"cats": [(8, 8)] * 2, "dogs": [(8, 8)] * 2})
    (root / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(DataError, match=r"cannot decode image dogs/broken.jpg"):
        read_image_folder(root, cache_dir=tmp_path / "cache")


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
