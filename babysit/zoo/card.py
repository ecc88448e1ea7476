"""Model cards: what a zoo entry says about its weights (timm's ``pretrained_cfg``, the Caffe Model Zoo readme).

``make_card(name, weights, meta, ...)`` builds the card of a checkpoint from its sidecar: name,
architecture spec, parameter names and shapes, the sha256 of the weights file, input shape and
layout, preprocessing with its fitted statistics, class names, the data it was trained on, the
recipe, the babysit version, validation/test metrics, which blocks are the body and which the
classifier, license and creation time. ``check_card`` refuses a card that lacks any of them.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from pathlib import Path

import numpy as np

from babysit._version import __version__
from babysit.errors import CheckpointError

CARD_FORMAT = "babysit-model-card"
CARD_VERSION = 1
CARD_FIELDS = ("format", "format_version", "name", "description", "architecture", "params", "sha256", "weights",
               "input", "preprocessing", "class_names", "trained_on", "recipe", "babysit_version", "metrics",
               "layers", "license", "created", "made_with")
RECIPE_KEYS = ("model", "update", "lr", "momentum", "reg", "epochs", "lr_decay", "schedule", "batch_size", "seed",
               "run_seed", "normalization", "preprocess")
FINETUNE_KEYS = ("base_model", "base_data", "strategy", "lr_mult", "freeze_epochs", "train_bn", "shared_classes",
                 "epochs_total")
SMALL_ARRAY = 64  # fitted preprocessing arrays up to this many values are written into the card in full


def sha256_file(path) -> str:
    """The hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def layer_roles(architecture: dict, params: dict) -> dict:
    """Body and classifier of a babysit model: its blocks (the k of W{k}), the last one the classifier."""
    block = {name: int(re.search(r"(\d+)$", name).group(1)) for name in params}
    blocks = sorted(set(block.values()))
    top = blocks[-1]
    return {"blocks": blocks, "body": blocks[:-1], "classifier": top,
            "classifier_params": sorted(n for n in params if block[n] == top), "first_layer": blocks[0],
            "note": "block k holds the parameters W{k}, b{k}, gamma{k}, beta{k}; finetune --strategy top:K trains "
                    "the top K blocks"}


def preprocessing_summary(preprocessor, config) -> dict | None:
    """The preprocessing config plus its fitted statistics (small arrays in full, large ones by shape and
    per-channel mean); the exact arrays are in the weights file under ``preprocess.``."""
    if config is None:
        return None
    summary = {"config": config, "fitted": {}}
    if preprocessor is not None and preprocessor.fitted:
        _, arrays = preprocessor.state()
        for key, value in arrays.items():
            value = np.asarray(value)
            entry = {"shape": list(value.shape), "dtype": value.dtype.name}
            if value.size <= SMALL_ARRAY:
                entry["values"] = value.astype(np.float64).round(6).tolist()
            elif value.ndim == 3:
                entry["per_channel_mean"] = value.reshape(value.shape[0], -1).mean(axis=1).round(6).tolist()
            summary["fitted"][key] = entry
    return summary


def make_card(name: str, weights: Path, meta: dict, *, description: str = "", license: str = "unspecified",
              metrics: dict | None = None, made_with: str | None = None, trained_on: dict | None = None) -> dict:
    """The card of the checkpoint ``weights`` (whose sidecar is ``meta``, as ``load_checkpoint`` returns it)."""
    train_config = meta.get("train_config") or {}
    arch = meta["architecture"]
    input_dim = arch.get("input_dim")
    shape = list(input_dim) if isinstance(input_dim, list | tuple) else [input_dim]
    preprocessor = meta.get("preprocessor")
    pre_input = getattr(preprocessor, "input_shape_", None)
    return {
        "format": CARD_FORMAT, "format_version": CARD_VERSION, "name": name, "description": description,
        "architecture": arch,
        "params": {k: v["shape"] for k, v in meta["params"].items()},
        "sha256": sha256_file(weights), "weights": Path(weights).name,
        "input": {"shape": shape, "layout": "NCHW" if len(shape) == 3 else "N,D",
                  "raw_shape": list(pre_input) if pre_input is not None else shape,
                  "raw": "RGB pixels 0..255 (uint8), before the preprocessing below" if len(shape) == 3 else
                         "features, before the preprocessing below",
                  "dtype": arch.get("dtype", "float32")},
        "preprocessing": preprocessing_summary(preprocessor, meta.get("preprocessing")),
        "class_names": list(meta["class_names"]),
        "trained_on": trained_on or {"data": train_config.get("data"), "seed": train_config.get("seed")},
        "recipe": {**{k: train_config[k] for k in RECIPE_KEYS if k in train_config},
                   **{k: v for k, v in (train_config.get("finetune") or {}).items() if k in FINETUNE_KEYS}},
        "babysit_version": meta.get("babysit_version", __version__),
        "metrics": metrics if metrics is not None else dict(meta.get("metrics") or {}),
        "layers": layer_roles(arch, meta["params"]),
        "license": license, "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "made_with": made_with,
    }


def check_card(card, where) -> dict:
    """``card`` when it is a babysit model card with every field; CheckpointError naming ``where`` otherwise."""
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise CheckpointError(f"{where}: not a babysit model card (expected \"format\": \"{CARD_FORMAT}\")")
    if card.get("format_version") != CARD_VERSION:
        raise CheckpointError(f"{where}: model card version {card.get('format_version')!r} is not supported "
                              f"(this babysit reads version {CARD_VERSION})")
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise CheckpointError(f"{where}: the model card lacks {', '.join(missing)}")
    return card
