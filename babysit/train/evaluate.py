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


def checkpoint_examples(path, source: str, split: str = "test", *, say=None, match: bool = True):
    """The checkpoint at ``path`` and the examples of ``split`` ('train', 'val', 'test' or 'all') of ``source``,
    preprocessed as it was trained: ``(model, X, y, split of each row, class_names, info)``.

    The split is drawn with the seed used in training; ``folder:`` images are loaded at the model's
    input size (``finetune.load_for_model``). With ``match``, the data's classes are matched to the
    model's by name (another set of classes is refused); without, the data keeps its own labels.
    """
    from babysit.data.dataset import SPLITS
    from babysit.train.checkpoint import load_checkpoint
    from babysit.train.finetune import load_for_model

    model, meta = load_checkpoint(path)
    train_config = meta.get("train_config") or {}
    preprocessor = meta["preprocessor"]
    dataset, source = load_for_model(source, model, preprocessor, seed=train_config.get("seed", 0), base=str(path),
                                     trained_on=train_config.get("data"), say=say,
                                     class_names=meta["class_names"] if match else None)
    names = list(SPLITS) if split == "all" else [split]
    parts = [dataset.split(name) for name in names]
    X = np.concatenate([X for X, _ in parts]) if len(parts) > 1 else parts[0][0]
    y = np.concatenate([y for _, y in parts]) if len(parts) > 1 else parts[0][1]
    splits = [name for name, (_, ys) in zip(names, parts) for _ in range(len(ys))]
    if preprocessor is not None and len(X):
        X = preprocessor.transform(X)
    return model, X, y, splits, list(dataset.class_names), {"source": source, "split": split,
                                                             "num_examples": int(len(y))}


def evaluate_checkpoint(path, source: str, split: str = "test", batch_size: int = 500, say=None) -> tuple[dict, dict]:
    """Evaluate the checkpoint at ``path`` on ``split`` ('train', 'val', 'test' or 'all': every example) of the
    data source ``source``.

    Classes are matched by name (a data set with other classes is refused), the split is drawn
    with the seed used in training, ``folder:`` images are loaded at the model's input size, and
    the saved preprocessing is applied. Returns (``evaluate``'s dict, info with source, split, num_examples).
    """
    model, X, y, _, class_names, info = checkpoint_examples(path, source, split, say=say)
    result = evaluate(model, X, y, class_names, batch_size=batch_size)
    return result, info
