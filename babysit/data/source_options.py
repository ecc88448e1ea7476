"""Options of a data source spec, after ``?``: ``folder:PATH?classes=0-4&per_class=100&image_size=64``.

``classes``: the classes to keep, by name or label, ranges allowed (``0-4``, ``cat,dog``); they keep
their order of the source and are relabelled 0..k-1. ``per_class``: keep at most N training
images of each class (the validation and test splits stay whole, so runs with different N are
scored on the same held-out images; a smaller N is a subset of a larger one). ``val_per_class``:
the same for the validation split (a cheaper per-epoch check; the test split stays whole). ``image_size``
(``S`` or ``HxW``) and ``crop_pct`` (default 1): resize and centre-crop ``folder:`` images.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from babysit.errors import ConfigError

OPTIONS = ("classes", "per_class", "val_per_class", "image_size", "crop_pct")
SYNTAX = "SOURCE?classes=0-4&per_class=100&val_per_class=50&image_size=64&crop_pct=0.875"


def split_options(spec: str) -> tuple[str, dict]:
    """``(base spec, {option: value})``; ConfigError for an unknown or malformed option."""
    base, sep, query = str(spec).partition("?")
    options: dict = {}
    if not sep:
        return base, options
    for part in filter(None, query.split("&")):
        key, eq, value = part.partition("=")
        if key not in OPTIONS or not eq or not value:
            raise ConfigError(f"data source option {part!r} of {spec!r} is not valid: expected KEY=VALUE with KEY "
                              f"one of {', '.join(OPTIONS)}, as in {SYNTAX}", parameter="data")
        options[key] = value
    for key in ("per_class", "val_per_class"):
        if key in options:
            options[key] = _positive_int(options[key], key, spec)
    if "image_size" in options:
        options["image_size"] = parse_image_size(options["image_size"], spec)
    if "crop_pct" in options:
        try:
            options["crop_pct"] = float(options["crop_pct"])
        except ValueError:
            options["crop_pct"] = -1.0
        if not 0 < options["crop_pct"] <= 1:
            raise ConfigError(f"crop_pct of {spec!r} must be a number in (0, 1]", parameter="data")
    return base, options


def parse_image_size(value, spec="--image-size") -> tuple[int, int]:
    """``64`` -> (64, 64); ``48x64`` -> (48, 64) (height x width); ConfigError otherwise."""
    if isinstance(value, tuple | list) and len(value) == 2:
        return int(value[0]), int(value[1])
    text = str(value).lower()
    h, _, w = text.partition("x")
    return _positive_int(h, "image_size", spec), _positive_int(w or h, "image_size", spec)


def with_options(spec: str, **options) -> str:
    """``spec`` with ``options`` set (None: removed), e.g. ``with_options('folder:x', image_size='32x32')``."""
    base, current = spec.partition("?")[0], dict(p.split("=", 1) for p in filter(None, spec.partition("?")[2].split("&")))
    for key, value in options.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    return base + ("?" + "&".join(f"{k}={v}" for k, v in current.items()) if current else "")


def _positive_int(text, name, spec) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise ConfigError(f"{name} of {spec!r} must be a positive integer; got {text!r}", parameter="data")
    return value


def resolve_classes(text: str, class_names: list[str], spec: str) -> list[int]:
    """The labels ``text`` names (names, labels, ranges ``a-b``), in the source's order."""
    chosen = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, dash, hi = part.partition("-")
        if part in class_names:
            chosen.add(class_names.index(part))
        elif dash and lo.isdigit() and hi.isdigit():
            chosen.update(range(int(lo), int(hi) + 1))
        elif part.isdigit():
            chosen.add(int(part))
        else:
            raise ConfigError(f"classes of {spec!r}: {part!r} is neither a class of the source ({', '.join(class_names)})"
                              " nor a label or range of labels", parameter="data")
    bad = sorted(c for c in chosen if c >= len(class_names))
    if bad:
        raise ConfigError(f"classes of {spec!r}: label(s) {bad} out of range; the source has labels "
                          f"0-{len(class_names) - 1}", parameter="data")
    if len(chosen) < 2:
        raise ConfigError(f"classes of {spec!r} keeps {len(chosen)} class; a classifier needs at least 2",
                          parameter="data")
    return sorted(chosen)


def apply_options(dataset, options: dict, seed: int, spec: str):
    """The Dataset with ``classes`` and ``per_class`` applied (image options act while decoding)."""
    if "classes" in options:
        keep = resolve_classes(options["classes"], list(dataset.class_names), spec)
        relabel = np.full(dataset.num_classes, -1, dtype=np.int64)
        relabel[keep] = np.arange(len(keep))
        arrays = {}
        for split in ("train", "val", "test"):
            X, y = getattr(dataset, f"X_{split}"), getattr(dataset, f"y_{split}")
            rows = np.flatnonzero(relabel[y] >= 0)
            arrays[f"X_{split}"], arrays[f"y_{split}"] = X[rows], relabel[y[rows]]
        dataset = dataclasses.replace(dataset, class_names=[dataset.class_names[c] for c in keep], **arrays)
    for key, split, stream in (("per_class", "train", 1), ("val_per_class", "val", 2)):
        if key in options:
            n = options[key]
            rng = np.random.default_rng([seed, stream])  # its own stream: the split's is not disturbed
            y = getattr(dataset, f"y_{split}")
            rows = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n]
                                           for c in range(dataset.num_classes)]))
            dataset = dataclasses.replace(dataset, **{f"X_{split}": getattr(dataset, f"X_{split}")[rows],
                                                      f"y_{split}": y[rows]})
    return dataset
