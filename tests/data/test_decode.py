"""Decoding image bytes (babysit.data.decode): RGB conversion, the forked worker pool, mixed sizes."""

import shutil

import numpy as np
import pytest
from PIL import Image

from babysit.data import decode, read_image_folder
from babysit.errors import DataError

from .imagefiles import write_tree


def test_parallel_decode_matches_in_processdecode_file(small_tree, tmp_path, monkeypatch):
    monkeypatch.setattr(decode, "CHUNK_IMAGES", 30)  # 200 images -> 7 chunks -> a process pool
    X1, y1, _, _ = read_image_folder(small_tree, cache_dir=tmp_path / "one", workers=1)
    X2, y2, _, _ = read_image_folder(small_tree, cache_dir=tmp_path / "two", workers=2)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)


def test_grayscale_and_rgba_images_become_rgb(tmp_path):
    root = tmp_path / "modes"
    for cls, mode in (("gray", "L"), ("rgba", "RGBA")):
        (root / cls).mkdir(parents=True)
        Image.new(mode, (4, 4), 200 if mode == "L" else (10, 20, 30, 40)).save(root / cls / "x.png")
    X, _, _, _ = read_image_folder(root, cache_dir=tmp_path / "cache")
    assert X.shape == (2, 3, 4, 4)
    assert X[0, :, 0, 0].tolist() == [200, 200, 200] and X[1, :, 0, 0].tolist() == [10, 20, 30]


def test_mixed_sizes_name_two_files_and_their_sizes(tmp_path):
    root = write_tree(tmp_path / "mixed", {"cats": [(32, 32)] * 3, "dogs": [(32, 32), (28, 24)]})
    with pytest.raises(DataError) as info:
        read_image_folder(root, cache_dir=tmp_path / "cache", workers=1)
    msg = str(info.value)
    assert "images of mixed sizes" in msg and "\n" not in msg
    assert "cats/000.png is 32x32" in msg and "dogs/001.png is 28x24" in msg


def test_mixed_sizes_across_parallel_chunks(small_tree, tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    shutil.copytree(small_tree, tree)
    Image.open(tree / "train/ship/0005.jpg").resize((30, 31)).save(tree / "train/ship/0005.jpg")
    monkeypatch.setattr(decode, "CHUNK_IMAGES", 30)
    with pytest.raises(DataError, match=r"airplane/0000.jpg is 32x32 but .*ship/0005.jpg is 30x31"):
        read_image_folder(tree, cache_dir=tmp_path / "cache", workers=2)


def test_undecodable_image_is_named(tmp_path):
    root = write_tree(tmp_path / "bad", {"cats": [(8, 8)] * 2, "dogs": [(8, 8)] * 2})
    (root / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(DataError, match=r"cannot decode image dogs/broken.jpg"):
        read_image_folder(root, cache_dir=tmp_path / "cache")
