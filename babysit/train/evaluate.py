"""Evaluation of a trained classifier: accuracy, mean loss and per-class accuracy."""

from __future__ import annotations

import numpy as np

from babysit.errors import InputError


def evaluate(model, X, y, class_names, batch_size: int = 500) -> dict:
    """Score ``model`` on (X, y) in eval mode, in batches.

    Inputs: model with ``loss(X) -> scores (N, C)``; X (N, ...); y (N,) labels;
    class_names, the C names in label order.
    Returns: {"accuracy": float, "loss": float (mean softmax cross-entropy, no L2),
    "per_class": {name: accuracy or None when the class has no examples}}.
    """
    from babysit.nn import softmax_loss

    if len(X) == 0:
        raise InputError("evaluate: the split is empty; nothing to evaluate")
    y = np.asarray(y)
    predictions = np.empty(len(X), dtype=np.int64)
    total_loss = 0.0
    for start in range(0, len(X), batch_size):
        rows = slice(start, start + batch_size)
        scores = model.loss(X[rows])
        loss, _ = softmax_loss(scores, y[rows])
        total_loss += loss * len(scores)
        predictions[rows] = scores.argmax(axis=1)
    correct = predictions == y
    per_class = {}
    for label, name in enumerate(class_names):
        mask = y == label
        per_class[str(name)] = float(correct[mask].mean()) if mask.any() else None
    return {"accuracy": float(correct.mean()), "loss": total_loss / len(X), "per_class": per_class}


def evaluate_checkpoint(path, source: str, split: str = "test", batch_size: int = 500) -> tuple[dict, dict]:
    """Evaluate the checkpoint at ``path`` on ``split`` of the data source ``source``.

    Classes are matched by name (a data set with other classes is refused), the
    split is drawn with the seed used in training, and the saved preprocessing is
    applied. Returns (``evaluate``'s dict, info with source, split, num_examples).
    """
    import math

    from babysit.data import load_source, match_classes
    from babysit.errors import DataError
    from babysit.train.checkpoint import load_checkpoint

    model, meta = load_checkpoint(path)
    seed = (meta.get("train_config") or {}).get("seed", 0)
    dataset = match_classes(meta["class_names"], load_source(source, seed=seed))
    X, y = dataset.split(split)
    preprocessor = meta["preprocessor"]
    expected = tuple(preprocessor.input_shape_) if preprocessor is not None and preprocessor.fitted \
        else tuple(model.input_shape)
    shape = tuple(X.shape[1:])
    if shape != expected and not (len(expected) == 1 and math.prod(shape) == expected[0]):
        raise DataError(
            f"{source}: examples have shape {shape}, but the checkpoint {path} was trained on examples of "
            f"shape {expected} (source {(meta.get('train_config') or {}).get('data', '?')!r})"
        )
    if preprocessor is not None:
        X = preprocessor.transform(X)
    result = evaluate(model, X, y, dataset.class_names, batch_size=batch_size)
    return result, {"source": source, "split": split, "num_examples": int(len(y))}
