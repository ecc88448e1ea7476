"""Data source options: classes, per_class, val_per_class, image_size (resize + centre crop) of every image source."""

import numpy as np
import pytest
from PIL import Image

from babysit.data import load_source
from babysit.data.decode import resize_centre_crop, resize_image_array
from babysit.data.source_options import with_options
from babysit.errors import ConfigError, DataError

from data.imagefiles import write_tree


def test_classes_by_range_and_name_keep_source_order_and_relabel():
    full = load_source("digits", seed=0)
    some = load_source("digits?classes=7,2-3", seed=0)
    assert some.class_names == ["2", "3", "7"]
    for split in ("train", "val", "test"):
        _, y_full = full.split(split)
        X, y = some.split(split)
        assert set(np.unique(y)) == {0, 1, 2}
        assert len(y) == int(np.isin(y_full, [2, 3, 7]).sum())
    assert np.array_equal(some.X_train, full.X_train[np.isin(full.y_train, [2, 3, 7])])


def test_per_class_limits_the_training_split_only_and_nests():
    small = load_source("digits?classes=0-4&per_class=5", seed=0)
    larger = load_source("digits?classes=0-4&per_class=20&val_per_class=3", seed=0)
    whole = load_source("digits?classes=0-4", seed=0)
    assert np.bincount(small.y_train).tolist() == [5] * 5
    assert np.array_equal(small.X_test, whole.X_test) and len(small.y_val) == len(whole.y_val)
    assert np.bincount(larger.y_val).tolist() == [3] * 5
    as_rows = {r.tobytes() for r in larger.X_train}
    assert all(r.tobytes() in as_rows for r in small.X_train)  # the 5 per class are among the 20


@pytest.mark.parametrize("spec, fragment", [
    ("digits?colour=red", "KEY=VALUE"), ("digits?classes=0", "at least 2"), ("digits?classes=3-12", "out of range"),
    ("digits?classes=zebra,1", "neither a class"), ("digits?per_class=0", "positive integer"),
    ("digits?crop_pct=0.875", "goes with image_size"),
])
def test_bad_options_are_config_errors(spec, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_source(spec)


def test_resize_centre_crop_covers_then_crops_the_centre():
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, 20:60] = 255  # a white centre square 40x40 in a black 40x80 image
    out = np.asarray(resize_centre_crop(Image.fromarray(pixels), (20, 20)))
    assert out.shape == (20, 20, 3) and out[:, 2:-2].min() == 255 and out.min() > 200  # only the centre is kept
    assert np.asarray(resize_centre_crop(Image.fromarray(pixels), (40, 80))).tolist() == pixels.tolist()


def test_folder_of_mixed_sizes_loads_with_image_size(tmp_path):
    root = write_tree(tmp_path / "photos", {"cat": [(40, 30), (64, 64), (50, 90)], "dog": [(33, 33), (80, 60)]})
    cache = tmp_path / "cache"
    with pytest.raises(Exception, match="mixed sizes"):
        load_source(f"folder:{root}", cache_dir=cache)
    data = load_source(with_options(f"folder:{root}", image_size="16x24"), cache_dir=cache, val_fraction=0,
                       test_fraction=0)
    assert data.X_train.shape == (5, 3, 16, 24) and data.class_names == ["cat", "dog"]


def test_image_size_resizes_array_sources_as_folder_images_are_decoded(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (4, 3, 20, 30), dtype=np.uint8)
    out = resize_image_array(rgb, (12, 12), 0.875)
    for i in range(4):  # uint8 RGB: exactly what a decoded folder image gets
        ref = np.asarray(resize_centre_crop(Image.fromarray(rgb[i].transpose(1, 2, 0)), (12, 12), 0.875))
        assert np.array_equal(out[i], ref.transpose(2, 0, 1))
    digits = load_source("digits?image_size=16", seed=0)
    plain = load_source("digits", seed=0)
    assert digits.X_train.shape[1:] == (1, 16, 16) and digits.X_train.dtype == np.uint8
    assert np.array_equal(digits.y_train, plain.y_train) and digits.X_test.shape[1:] == (1, 16, 16)
    # float arrays, channel by channel: a constant image stays constant, shapes follow
    X = np.concatenate([np.full((6, 2, 10, 14), 0.25, np.float32), rng.standard_normal((6, 2, 10, 14))])
    np.savez(tmp_path / "f.npz", X=X.astype(np.float64), y=np.arange(12) % 2)
    data = load_source(f"npz:{tmp_path / 'f.npz'}?image_size=5x7", seed=0, val_fraction=0, test_fraction=0)
    assert data.X_train.shape == (12, 2, 5, 7) and data.X_train.dtype == np.float32
    constant = [x for x in data.X_train if np.allclose(x, x.flat[0])]
    assert len(constant) == 6 and all(np.allclose(x, 0.25, atol=1e-6) for x in constant)
    np.savez(tmp_path / "flat.npz", X=rng.standard_normal((10, 12)), y=np.arange(10) % 2)
    with pytest.raises(DataError, match=r"resizes images \(N, C, H, W\); its examples have shape \(12,\)"):
        load_source(f"npz:{tmp_path / 'flat.npz'}?image_size=4")


def test_image_size_resizes_cifar10_train_and_test(shared_data):
    spec = f"cifar10:{shared_data / 'cifar-10-batches-py-sample'}"
    data = load_source(f"{spec}?image_size=24&crop_pct=0.875", seed=0)
    plain = load_source(spec, seed=0)
    assert data.X_train.shape[1:] == data.X_test.shape[1:] == (3, 24, 24)
    assert len(data.y_test) == len(plain.y_test) and np.array_equal(data.y_val, plain.y_val)
    first = resize_centre_crop(Image.fromarray(plain.X_test[0].transpose(1, 2, 0)), (24, 24), 0.875)
    assert np.array_equal(data.X_test[0], np.asarray(first).transpose(2, 0, 1))
