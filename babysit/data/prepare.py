"""``prepare(source, preprocess, seed)``: the one data path of every command and every trial.

Load a data source (the ``--data`` syntax), split it deterministically with ``seed``, fit the
preprocessing on the training split only and apply it to every split:

    dataset, preprocessor = prepare("digits", "standardize", seed=0)
    dataset.X_train.dtype  # float32, preprocessed; dataset.class_names, dataset.source as loaded

The same (source, preprocess, seed) gives the same arrays in ``babysit train``, ``doctor``,
``search``, ``run`` and ``eval`` (which re-splits with the checkpoint's seed to find its test split).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from babysit.data.dataset import SPLITS, Dataset
from babysit.data.preprocessing import Preprocessor
from babysit.data.sources import load_source

DEFAULT_PREPROCESS = "standardize"  # unit-scale inputs, which the default He/Xavier init assumes


def prepare(
    source: str,
    preprocess: str | Preprocessor = DEFAULT_PREPROCESS,
    seed: int = 0,
    *,
    val_fraction: float | int = 0.1,
    test_fraction: float | int = 0.1,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[Dataset, Preprocessor]:
    """Load, split and preprocess ``source``; returns the preprocessed Dataset and its fitted Preprocessor.

    Inputs: source, a data source spec (``digits``, ``cifar10:DIR``, ``folder:PATH``, ``npz:PATH``);
    preprocess, a spec (``standardize``, ``pca:100``, ...) or an unfitted Preprocessor; seed of the
    split; the rest as ``load_source``. The preprocessing spec is checked before any data is read.
    X arrays come back float32 (images keep their (N, C, H, W) layout, PCA kinds give (N, k) rows);
    an empty split keeps the transformed shape with zero rows.
    """
    preprocessor = preprocess if isinstance(preprocess, Preprocessor) else Preprocessor.from_spec(preprocess)
    raw = load_source(source, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
                      cache_dir=cache_dir)
    return preprocessed(raw, preprocessor), preprocessor


def preprocessed(raw: Dataset, preprocessor: Preprocessor) -> Dataset:
    """``raw`` with ``preprocessor`` fitted on its training split (unless already fitted) and applied to all."""
    X_train = preprocessor.transform(raw.X_train) if preprocessor.fitted else preprocessor.fit_transform(raw.X_train)
    arrays = {"X_train": X_train}
    for split in SPLITS[1:]:
        X = getattr(raw, f"X_{split}")
        arrays[f"X_{split}"] = (preprocessor.transform(X) if len(X)
                                else np.empty((0, *X_train.shape[1:]), dtype=np.float32))
    return dataclasses.replace(raw, **arrays)
