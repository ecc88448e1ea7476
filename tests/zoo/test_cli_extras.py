"""`babysit train --publish`, `babysit features`, `babysit eval --split all`."""

import json

import numpy as np

from babysit.train.checkpoint import load_checkpoint
from babysit.train.features import penultimate_features

from cli.helpers import assert_one_line_error, babysit


def test_train_publishes_into_the_zoo(tmp_path):
    zoo = tmp_path / "zoo"
    proc = babysit("train", "--data", "digits", "--model", "fc:16", "--epochs", "1", "--out", tmp_path / "m",
                   "--publish", "tiny", "--zoo", zoo, "--license", "CC0-1.0", "--quiet", "--monitor-every", "0")
    assert proc.returncode == 0, proc.stderr
    card = json.loads((zoo / "tiny" / "card.json").read_text())
    assert card["license"] == "CC0-1.0" and card["made_with"].startswith("babysit train --data digits")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["metrics"]["val_acc"] == meta["metrics"]["val_acc"] > 0.2


def test_features_are_the_penultimate_layer_for_every_example(base_checkpoint, tmp_path):
    out = tmp_path / "f.npz"
    proc = babysit("features", "--checkpoint", base_checkpoint, "--data", "digits?classes=5-9", "--out", out,
                   "--batch-size", "64")
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as f:
        features, labels, splits = f["features"], f["labels"], f["split"]
        assert list(f["class_names"]) == ["5", "6", "7", "8", "9"]
    assert features.shape == (len(labels), 16) and set(splits) == {"train", "val", "test"}
    assert (features >= 0).all()  # the last hidden layer's ReLU
    model, meta = load_checkpoint(base_checkpoint)
    from babysit.data import load_source

    data = load_source("digits?classes=5-9", seed=0)
    X = meta["preprocessor"].transform(data.X_train[:7])
    np.testing.assert_allclose(features[:7], penultimate_features(model, X, batch_size=3), rtol=1e-5, atol=1e-6)
    # the classifier applied to the features gives the model's scores
    scores = features[:7] @ model.params["W3"] + model.params["b3"]
    np.testing.assert_allclose(scores, model.loss(X), rtol=1e-4, atol=1e-5)


def test_eval_split_all_scores_every_example(base_checkpoint):
    proc = babysit("eval", "--checkpoint", base_checkpoint, "--data", "digits?classes=0-4", "--split", "all", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    test = json.loads(babysit("eval", "--checkpoint", base_checkpoint, "--data", "digits?classes=0-4",
                              "--json").stdout)
    assert result["accuracy"] >= test["accuracy"] - 0.1 and set(result["per_class"]) == {"0", "1", "2", "3", "4"}
    text = babysit("eval", "--checkpoint", base_checkpoint, "--data", "digits?classes=0-4", "--split", "all")
    assert "all split of digits?classes=0-4: 901 examples" in text.stdout
    assert_one_line_error(babysit("features", "--checkpoint", base_checkpoint, "--data", "digits", "--out",
                                  base_checkpoint / "x.npz", "--batch-size", "0"), "--batch-size")
