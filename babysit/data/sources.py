"""``load_source(spec)``: one syntax for every data source (the CLI's ``--data``).

Specs: ``digits`` (embedded default), ``cifar10:DIR`` (official python-version
batches), ``folder:PATH`` (image-folder tree or .tar.gz/.tgz/.zip of one),
``npz:PATH`` (arrays X, y, optional class_names). Any of them takes options after ``?``
(``babysit.data.source_options``): ``folder:PATH?classes=0-4&per_class=100&image_size=64``.
"""

from __future__ import annotations

import os

import numpy as np

from babysit.data.arrays import read_npz_arrays
from babysit.data.cifar10 import read_cifar10
from babysit.data.dataset import Dataset, label_map
from babysit.data.digits import read_digits
from babysit.data.image_folder import read_image_folder
from babysit.data.decode import resize_image_array
from babysit.data.source_options import apply_options, split_options
from babysit.data.splits import split_size, stratified_split
from babysit.errors import ConfigError, DataError

# scheme -> (takes a path?, usage shown in errors)
SOURCES = {
    "digits": (False, "digits (the embedded 8x8 handwritten digits)"),
    "cifar10": (True, "cifar10:DIR (official CIFAR-10 python-version directory)"),
    "folder": (True, "folder:PATH (image folder CLASS/*.jpg|png, or a .tar.gz/.tgz/.zip of one)"),
    "npz": (True, "npz:PATH (.npz with arrays X, y and optional class_names)"),
}
# The lecture's CIFAR-10 split: 49,000 training and 1,000 validation images.
CIFAR10_VAL_ROWS = 1000
CIFAR10_TRAIN_ROWS = 50000


def parse_source(spec: str) -> tuple[str, str]:
    """Split a spec into ``(scheme, argument)`` (options after ``?`` checked, not returned); ConfigError for
    unknown or malformed specs."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"expected a data source spec; got {spec!r}. {_valid()}")
    spec, _ = split_options(spec)
    scheme, sep, arg = spec.strip().partition(":")
    if scheme not in SOURCES:
        hint = _did_you_mean(spec.strip())
        meant = f"; did you mean {hint}?" if hint else "."
        raise ConfigError(f"unknown data source {spec!r}{meant} {_valid()}")
    takes_path, usage = SOURCES[scheme]
    if takes_path and not arg:
        raise ConfigError(f"{scheme} needs a path, as in {usage}; got {spec!r}")
    if not takes_path and sep:
        raise ConfigError(f"{scheme} takes no argument; got {spec!r}")
    return scheme, arg


def _did_you_mean(spec: str) -> str | None:
    """The spec a bare path most likely meant: npz: for a .npz file, folder: for an archive or an image
    folder, cifar10: for a folder holding CIFAR-10's data_batch_1; None for anything else."""
    from pathlib import Path

    from babysit.data.archives import is_archive
    from babysit.data.cifar10 import TRAIN_BATCHES

    path = Path(spec).expanduser()
    if path.suffix.lower() == ".npz":
        return f"npz:{spec}"
    if is_archive(path):
        return f"folder:{spec}"
    if path.is_dir():
        return f"cifar10:{spec}" if (path / TRAIN_BATCHES[0]).is_file() else f"folder:{spec}"
    return None


def _valid() -> str:
    return "Valid sources: " + "; ".join(usage for _, usage in SOURCES.values())


def load_source(
    spec: str,
    *,
    seed: int = 0,
    val_fraction: float | int = 0.1,
    test_fraction: float | int = 0.1,
    cache_dir: str | os.PathLike | None = None,
    class_order: list[str] | None = None,
) -> Dataset:
    """Load the data source ``spec`` and split it deterministically.

    Inputs: spec (see module doc); seed for the split; val_fraction and
    test_fraction, each a fraction in [0, 1) or an int row count; cache_dir for
    decoded image folders. Splits are stratified by class. ``cifar10:DIR`` keeps
    the official test_batch as the test split (test_fraction is unused) and holds
    out the lecture's 1,000 validation images from 50,000 training rows (else
    val_fraction). Returns a Dataset.
    """
    scheme, arg = parse_source(spec)
    _, options = split_options(spec)
    size, crop = options.get("image_size"), options.get("crop_pct", 1.0)
    if "crop_pct" in options and size is None:
        raise ConfigError(f"crop_pct of {spec!r} goes with image_size (the size to crop to)", parameter="data")
    rng = np.random.default_rng(seed)
    if scheme == "cifar10":
        X, y, X_test, y_test, class_names = read_cifar10(arg)
        (y, y_test), class_names = _in_class_order((y, y_test), class_names, class_order)
        if size is not None:
            X, X_test = (resize_image_array(a, size, crop, where=spec) for a in (X, X_test))
        n_val = CIFAR10_VAL_ROWS if len(y) == CIFAR10_TRAIN_ROWS else split_size(val_fraction, len(y), "val_fraction")
        train, val, _ = stratified_split(y, n_val, 0, rng)
        return apply_options(Dataset(X[train], y[train], X[val], y[val], X_test, y_test, class_names, spec),
                             options, seed, spec)

    if scheme == "digits":
        X, y, class_names = read_digits()
    elif scheme == "folder":
        X, y, class_names, _ = read_image_folder(arg, cache_dir=cache_dir, image_size=size, crop_pct=crop)
    else:
        X, y, class_names = read_npz_arrays(arg)
        if len(class_names) < 2:
            raise DataError(f"{arg}: labels name {len(class_names)} class; a classifier needs at least 2")
    if size is not None and scheme != "folder":  # folder: images are resized while they are decoded
        X = resize_image_array(X, size, crop, where=spec)
    (y,), class_names = _in_class_order((y,), class_names, class_order)
    n_val = split_size(val_fraction, len(y), "val_fraction")
    n_test = split_size(test_fraction, len(y), "test_fraction")
    train, val, test = stratified_split(y, n_val, n_test, rng)
    return apply_options(Dataset(X[train], y[train], X[val], y[val], X[test], y[test], class_names, spec),
                         options, seed, spec)


def _in_class_order(labels: tuple, class_names, class_order):
    """``(labels, class_names)`` renumbered so that label i names ``class_order[i]``, when both list the same
    classes (unique names) in different orders; unchanged otherwise."""
    if class_order is None:
        return labels, class_names
    names, order = [str(n) for n in class_names], [str(n) for n in class_order]
    if names == order or sorted(names) != sorted(order) or len(set(order)) != len(order):
        return labels, class_names
    new_label = label_map(names, order)
    return tuple(new_label[np.asarray(y)] for y in labels), order
