"""The model shipped with babysit: it loads from the package, its weights match the card's sha256, and it
reaches the accuracy its card records (on the fixture; on the held-out test split with the shared data)."""

import pytest

from babysit.train.checkpoint import load_checkpoint
from babysit.train.evaluate import evaluate_checkpoint
from babysit.zoo import CARD_FIELDS, Zoo, sha256_file
from babysit.zoo.registry import SHIPPED

NAME = "cifar10-convnet"


def test_shipped_model_loads_and_matches_its_sha256(tmp_path):
    zoo = Zoo(tmp_path / "empty-zoo")  # a fresh install: no local entries, the shipped ones only
    assert NAME in zoo.names() and zoo.is_shipped(NAME)
    card = zoo.card(NAME)
    assert set(CARD_FIELDS) <= set(card)
    path = zoo.checkpoint(NAME)  # checks the sha256
    assert sha256_file(path / "model.safetensors") == card["sha256"]
    assert (path / "model.safetensors").stat().st_size < 1_000_000  # small enough for the wheel
    model, meta = load_checkpoint(path)
    assert model.config()["type"] == "ConvNet" and model.input_shape == (3, 32, 32)
    assert meta["class_names"] == card["class_names"] and len(card["class_names"]) == 10
    assert "babysit train --data folder:" in card["made_with"]


def test_shipped_model_reaches_its_recorded_accuracy_on_the_fixture(shared_data):
    card = Zoo(shipped=SHIPPED).card(NAME)
    result, info = evaluate_checkpoint(SHIPPED / NAME, f"cifar10:{shared_data / 'cifar-10-batches-py-sample'}",
                                       split="all")
    assert info["num_examples"] == card["metrics"]["fixture_examples"] == 1200
    assert result["accuracy"] == pytest.approx(card["metrics"]["fixture_acc"], abs=2 / 1200)
    assert result["accuracy"] > 0.5  # far above chance (0.1)


@pytest.mark.slow
def test_shipped_model_reaches_its_recorded_test_accuracy(shared_data):
    card = Zoo(shipped=SHIPPED).card(NAME)
    result, info = evaluate_checkpoint(SHIPPED / NAME, f"folder:{shared_data / 'cifar10-train-jpeg.tar.gz'}",
                                       split="test")
    assert info["num_examples"] == card["metrics"]["test_examples"] == 5000
    assert result["accuracy"] == pytest.approx(card["metrics"]["test_acc"], abs=3 / 5000)


def test_finetune_from_the_shipped_name_works_out_of_the_box(tmp_path):
    from cli.helpers import babysit

    proc = babysit("finetune", "--from", NAME, "--zoo", tmp_path / "empty", "--data", _tiny_folder(tmp_path),
                   "--epochs", "2", "--batch-size", "8", "--out", tmp_path / "ft", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "at 32x32, the input size of cifar10-convnet" in proc.stdout


def _tiny_folder(tmp_path):
    """Photos of mixed sizes (resized to 32x32 on the way in): reddish 'cat's and bluish 'owl's."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    sizes = [(40, 30), (64, 64), (50, 90), (33, 33), (80, 60), (45, 45)] * 2
    for cls, colour in (("cat", (200, 60, 40)), ("owl", (40, 60, 200))):
        (tmp_path / "photos" / cls).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            pixels = np.clip(np.array(colour) + rng.normal(0, 30, (h, w, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "photos" / cls / f"{i}.png")
    return f"folder:{tmp_path / 'photos'}"
