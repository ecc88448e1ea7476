"""What the checks need from their inputs: data arrays, fresh models, frozen randomness, quiet NumPy."""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Mapping

import numpy as np

from babysit.data.dataset import Dataset
from babysit.errors import ConfigError, DataError

DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


def as_dataset(data, num_classes: int | None = None) -> Dataset:
    """The checks' data as a ``babysit.data.Dataset`` (preprocessed arrays): a Dataset is taken as is;
    a dict with X_train/y_train/X_val/y_val (the cs231n data dict) or a tuple (X, y) is wrapped.

    With (X, y) the validation split is the training split; without ``num_classes`` the classes are
    0 .. the largest label. Raises DataError for mismatched lengths, non-integer labels or fewer
    than two classes.
    """
    if isinstance(data, Dataset):
        dataset = data
    else:
        if isinstance(data, tuple) and len(data) == 2:
            arrays = [data[0], data[1], data[0], data[1]]
        else:
            get = data.get if isinstance(data, Mapping) else (lambda k: getattr(data, k, None))
            arrays = [get(k) for k in DATA_KEYS]
            missing = [k for k, a in zip(DATA_KEYS, arrays) if a is None]
            if missing:
                raise DataError(f"doctor: the data lacks {', '.join(missing)}; expected {', '.join(DATA_KEYS)} "
                                "(a Dataset, a dict, or a tuple (X, y))")
        X_train, y_train, X_val, y_val = (np.asarray(a) for a in arrays)
        for X, y, split in ((X_train, y_train, "train"), (X_val, y_val, "val")):
            if len(X) != len(y):
                raise DataError(f"doctor: X_{split} has {len(X)} rows but y_{split} has {len(y)} labels")
            if not np.issubdtype(y.dtype, np.integer):
                raise DataError(f"doctor: y_{split} must hold integer class labels; got dtype {y.dtype}")
        if num_classes is None and len(y_train):
            num_classes = int(max(y_train.max(), y_val.max() if len(y_val) else 0)) + 1
        dataset = Dataset(X_train, y_train, X_val, y_val, X_train[:0], y_train[:0],
                          [str(c) for c in range(int(num_classes or 0))], "arrays")
    if len(dataset.y_train) < 2:
        raise DataError(f"doctor: the training split has {len(dataset.y_train)} row(s); the checks need at least 2")
    classes = np.unique(dataset.y_train)
    if len(classes) < 2:
        raise DataError(f"doctor: the training labels hold {len(classes)} class ({classes.tolist()}); "
                        "a classifier needs examples of at least 2 classes")
    return dataset


ModelFactory = Callable[..., object]


def as_model_factory(model_or_factory) -> ModelFactory:
    """Return a callable ``make(**overrides) -> model``.

    A factory is returned as is: it is called with no arguments for a fresh
    model and with ``dtype=np.float64`` for the gradient check. A model instance
    becomes a factory that rebuilds it from ``model.config()`` (with the
    overrides) and copies its current weights, so every check starts from them.
    """
    if callable(model_or_factory) and not hasattr(model_or_factory, "params"):
        return model_or_factory
    model = model_or_factory
    if not hasattr(model, "config"):
        raise ConfigError(f"doctor: expected a model factory or a babysit.nn model; got {type(model).__name__}")

    def rebuild(**overrides):
        from babysit.nn import build_model

        config = dict(model.config())
        for key, value in overrides.items():
            config[key] = np.dtype(value).name if key == "dtype" else value
        copy = build_model(config)
        copy_weights(model, copy)
        return copy

    return rebuild


def copy_weights(source, target) -> None:
    """Copy every parameter of ``source`` into ``target``'s own arrays (cast to the target's dtype).

    In place, never by assignment: assigning would let the two models share one
    array, and training the copy would then change the caller's model.
    """
    for name in source.params:
        np.copyto(target.params[name], source.params[name], casting="same_kind")


def weight_names(model) -> list[str]:
    """The names of the weight matrices (the L2-regularized parameters), e.g. ['W1', 'W2']."""
    names = getattr(model, "weight_names", None)
    return list(names) if names is not None else [k for k in model.params if k.startswith("W")]


def num_classes_of(model, data: Dataset) -> int:
    return int(getattr(model, "num_classes", data.num_classes))


@contextlib.contextmanager
def quiet_numpy():
    """Silence overflow/invalid warnings: probes at absurd learning rates overflow by design."""
    with np.errstate(all="ignore"):
        yield


class FrozenRandomness:
    """Restores the generators of the model's random layers (dropout) so repeated losses see the same masks."""

    def __init__(self, model):
        self._states = [(layer.rng, layer.rng.bit_generator.state)
                        for layer in getattr(model, "layers", ()) if isinstance(getattr(layer, "rng", None),
                                                                              np.random.Generator)]

    def restore(self) -> None:
        for rng, state in self._states:
            rng.bit_generator.state = state


def child_rng(seed, name: str) -> np.random.Generator:
    """A generator for one check, independent of the others' and of the order they run in."""
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**32))
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())])
