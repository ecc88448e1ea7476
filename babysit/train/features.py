"""Penultimate-layer features: the pretrained network as a fixed feature extractor (the lecture's small-data case)."""

from __future__ import annotations

import numpy as np


def penultimate_features(model, X, batch_size: int = 500) -> np.ndarray:
    """(N, D) outputs of every layer but the classifier, in eval mode, computed in batches (float32/64 as the model)."""
    model.eval()
    layers = model.layers.layers[:-1]
    chunks = []
    for start in range(0, len(X), batch_size):
        h = model.prepare_input(X[start:start + batch_size])
        for layer in layers:
            h = layer.forward(h)
        chunks.append(np.array(h.reshape(len(h), -1), copy=True))  # the layers reuse their output buffers
    if not chunks:
        width = model.layers.layers[-1].params["W"].shape[0]
        return np.zeros((0, width), dtype=model.dtype)
    return np.concatenate(chunks)
