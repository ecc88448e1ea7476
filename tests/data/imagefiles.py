"""Test helpers for image folders: write a tree of random images, decode a file independently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def decode_file(path: Path) -> np.ndarray:
    """An independent decode of one image file to (3, H, W)."""
    return np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)


def write_tree(root: Path, classes: dict[str, list[tuple[int, int]]], fmt: str = "PNG") -> Path:
    """Write a tree root/CLASS/i.png with images of the given (width, height) sizes."""
    rng = np.random.default_rng(0)
    for cls, sizes in classes.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i, (w, h) in enumerate(sizes):
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i:03d}.{fmt.lower()}", fmt)
    return root
