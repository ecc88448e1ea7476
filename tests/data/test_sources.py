"""The data-source spec syntax: one line per source, clear errors for everything else."""

import pytest

from babysit.data import SOURCES, load_source, parse_source
from babysit.errors import ConfigError


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("digits", ("digits", "")),
        ("cifar10:/data/cifar-10-batches-py", ("cifar10", "/data/cifar-10-batches-py")),
        ("folder:imgs.tar.gz", ("folder", "imgs.tar.gz")),
        ("folder:C:/odd:name", ("folder", "C:/odd:name")),
        ("npz:arrays.npz", ("npz", "arrays.npz")),
    ],
)
def test_parse_source(spec, parsed):
    assert parse_source(spec) == parsed


@pytest.mark.parametrize("spec", ["mnist", "imagenet:/data", "/some/path", "Digits"])
def test_unknown_source_lists_the_valid_ones(spec):
    with pytest.raises(ConfigError, match=f"unknown data source '{spec}'") as info:
        load_source(spec)
    message = str(info.value)
    assert all(f"{scheme}" in message for scheme in SOURCES) and "\n" not in message
    assert "cifar10:DIR" in message and "folder:PATH" in message and "npz:PATH" in message


def test_a_bare_path_gets_the_spec_it_most_likely_meant(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "images" / "cat").mkdir(parents=True)
    (tmp_path / "batches").mkdir()
    (tmp_path / "batches" / "data_batch_1").write_bytes(b"")
    for spec, meant in (("x.npz", "npz:x.npz"), ("photos.tar.gz", "folder:photos.tar.gz"), ("pics.zip", "folder:pics.zip"),
                        ("images", "folder:images"), ("batches", "cifar10:batches")):
        with pytest.raises(ConfigError) as info:
            load_source(spec)
        assert f"unknown data source '{spec}'; did you mean {meant}? Valid sources:" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_source("nowhere")
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cifar10", "cifar10 needs a path, as in cifar10:DIR"),
        ("folder:", "folder needs a path"),
        ("digits:extra", "digits takes no argument"),
        ("", "expected a data source spec"),
    ],
)
def test_malformed_specs(spec, message):
    with pytest.raises(ConfigError, match=message):
        load_source(spec)


def test_split_arguments_are_validated():
    with pytest.raises(ConfigError, match="The 'val_fraction' parameter of load_source must be a float in"):
        load_source("digits", val_fraction=1.2)
    with pytest.raises(ConfigError, match="test_fraction"):
        load_source("digits", test_fraction=-1)


def test_row_counts_instead_of_fractions():
    d = load_source("digits", val_fraction=100, test_fraction=0)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (1697, 100, 0)
    assert d.X_test.shape == (0, 1, 8, 8)


def _rows(X):
    """Each example as bytes: a split's rows as a set, whatever their order."""
    return {x.tobytes() for x in X}


def test_class_order_renumbers_the_labels_before_the_split(tmp_path):
    import numpy as np

    X = np.random.default_rng(0).normal(size=(90, 4)).astype(np.float32)
    y = np.repeat(np.arange(3), 30)
    np.savez(tmp_path / "a.npz", X=X, y=y, class_names=np.array(["cat", "dog", "frog"]))
    order = ["frog", "cat", "dog"]  # the same examples, their classes listed in another order
    np.savez(tmp_path / "b.npz", X=X, y=np.array([order.index(n) for n in ("cat", "dog", "frog")])[y],
             class_names=np.array(order))
    a = load_source(f"npz:{tmp_path / 'a.npz'}", seed=3)
    b = load_source(f"npz:{tmp_path / 'b.npz'}", seed=3, class_order=["cat", "dog", "frog"])
    assert b.class_names == ["cat", "dog", "frog"]
    for split in ("train", "val", "test"):
        assert np.array_equal(getattr(a, f"X_{split}"), getattr(b, f"X_{split}"))  # the same rows, the same order
        assert np.array_equal(getattr(a, f"y_{split}"), getattr(b, f"y_{split}"))
    # without it, the split follows the label ids: another test split
    plain = load_source(f"npz:{tmp_path / 'b.npz'}", seed=3)
    assert plain.class_names == order and _rows(plain.X_test) != _rows(a.X_test)
    # other classes are left as they are (match_classes refuses them, naming what differs)
    other = load_source(f"npz:{tmp_path / 'b.npz'}", seed=3, class_order=["cat", "dog", "bird"])
    assert other.class_names == order
