"""A model trained on an image folder, evaluated by `babysit eval` on the official CIFAR-10 batches.

The folder holds the official fixture's ``test_batch`` images written as lossless PNGs, so a
model that memorizes its training split must score high on the official batch, and only if
both loaders agree on pixel layout, channel order, labels and preprocessing (a mix-up in any
of them drops it to chance).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from .helpers import babysit


@pytest.fixture(scope="module")
def official(shared_data):
    path = shared_data / "cifar-10-batches-py-sample"
    if not path.is_dir():
        pytest.skip(f"CIFAR-10 format fixture not found at {path}")
    return path


@pytest.fixture(scope="module")
def png_folder(official, tmp_path_factory):
    from PIL import Image

    from babysit.data import safe_unpickle_file

    names = safe_unpickle_file(official / "batches.meta")["label_names"]
    batch = safe_unpickle_file(official / "test_batch")
    rows, labels = np.asarray(batch["data"]), batch["labels"]
    root = tmp_path_factory.mktemp("pngs") / "images"
    for i, (row, label) in enumerate(zip(rows, labels)):
        target = root / names[label] / f"{i:04d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(row.reshape(3, 32, 32).transpose(1, 2, 0)).save(target)  # R, G, B planes -> HWC
    return root


def test_a_folder_trained_model_scores_on_the_official_batch_of_the_same_images(png_folder, official, tmp_path):
    train = babysit("train", "--data", f"folder:{png_folder}", "--model", "fc:100", "--epochs", "40", "--lr", "1e-2",
                    "--reg", "0", "--lr-decay", "1", "--quiet", "--monitor-every", "0", "--out", "m", cwd=tmp_path)
    assert train.returncode == 0, train.stdout + train.stderr
    ev = babysit("eval", "--checkpoint", "m/model.safetensors", "--data", f"cifar10:{official}", "--split", "test",
                 "--json", cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    assert sorted(report["per_class"]) == sorted(p.name for p in png_folder.iterdir())
    # 80% of these 200 images were trained on: chance is 10%, and a wrong class matching scores <= chance. The
    # kept checkpoint is the best-validation epoch (20 images: noisy), so how much of the training split it had
    # memorized depends on the init: since the classifier layer starts small (issue 10) it was epoch 5
    # (train 33%, this accuracy 32%) where it used to be a later one (> 60%).
    assert report["accuracy"] > 0.25, report
