"""Checkpoints: safetensors + JSON round trip, atomic writes, and every corrupted or mismatched file."""

import importlib.metadata
import json
import os

import numpy as np
import pytest

import babysit
from babysit.data import Preprocessor
from babysit.errors import CheckpointError
from babysit.nn import FullyConnectedNet
from babysit.train.checkpoint import META_KEY, checkpoint_meta, checkpoint_paths, load_checkpoint, save_checkpoint

CLASSES = [f"c{i}" for i in range(4)]


def _trained_bn_model(rng):
    """A small batchnorm net whose parameters and running statistics are no longer at init."""
    model = FullyConnectedNet([6, 5], input_dim=(1, 2, 4), num_classes=4, normalization="batchnorm", seed=0)
    X, y = rng.standard_normal((16, 1, 2, 4)).astype(np.float32), rng.integers(0, 4, 16)
    for _ in range(3):
        _, grads = model.loss(X, y)
        for k, v in model.params.items():
            v -= 0.1 * grads[k]
    return model, X


def _save(path, model, preprocessor=None, **kw):
    args = dict(class_names=CLASSES, train_config={"lr": 0.1, "update": "sgd"}, metrics={"best_val_acc": 0.5})
    args.update(kw)
    return save_checkpoint(path, model, preprocessor=preprocessor, **args)


def test_round_trip_restores_weights_buffers_preprocessing_and_metadata(tmp_path, rng):
    model, X = _trained_bn_model(rng)
    pre = Preprocessor("standardize").fit(rng.integers(0, 255, (30, 1, 2, 4)).astype(np.uint8))
    path = _save(tmp_path / "run" / "model.safetensors", model, pre, metrics={"best_val_acc": 0.75, "loss": float("nan")})
    assert path == tmp_path / "run" / "model.safetensors"
    assert sorted(os.listdir(tmp_path / "run")) == ["model.json", "model.safetensors"]  # no temp files left

    loaded, meta = load_checkpoint(path)
    assert type(loaded) is FullyConnectedNet and loaded.config() == model.config()
    for k, v in model.params.items():
        assert loaded.params[k].dtype == v.dtype == np.float32
        np.testing.assert_array_equal(loaded.params[k], v)
    # eval mode uses the BatchNorm running statistics: identical scores prove they were restored
    np.testing.assert_array_equal(loaded.loss(X), model.loss(X))
    assert meta["class_names"] == CLASSES
    assert meta["train_config"] == {"lr": 0.1, "update": "sgd"}
    assert meta["metrics"] == {"best_val_acc": 0.75, "loss": None}  # strict JSON: NaN stored as null
    assert meta["babysit_version"] == babysit.__version__ == importlib.metadata.version("babysit")
    probe = rng.integers(0, 255, (5, 1, 2, 4)).astype(np.uint8)
    np.testing.assert_array_equal(meta["preprocessor"].transform(probe), pre.transform(probe))

    sidecar = json.loads((tmp_path / "run" / "model.json").read_text())
    assert sidecar["params"]["W1"] == {"shape": [8, 6], "dtype": "float32"}
    assert sidecar["preprocessing"]["kind"] == "standardize"


def test_weights_load_with_plain_safetensors(tmp_path, rng):
    from safetensors.numpy import load_file

    model, _ = _trained_bn_model(rng)
    tensors = load_file(str(_save(tmp_path / "m.safetensors", model)))
    np.testing.assert_array_equal(tensors["W2"], model.params["W2"])
    assert {"buffer.running_mean1", "buffer.running_var2"} <= set(tensors)


def test_path_without_suffix_and_overwrite(tmp_path, rng):
    model, _ = _trained_bn_model(rng)
    first = _save(tmp_path / "model", model)
    assert first.name == "model.safetensors" and checkpoint_paths(tmp_path / "model")[1].name == "model.json"
    model.params["b3"] += 1.0
    _save(tmp_path / "model", model)
    loaded, _ = load_checkpoint(tmp_path / "model.safetensors")
    np.testing.assert_array_equal(loaded.params["b3"], model.params["b3"])
    umask = os.umask(0o022)
    os.umask(umask)
    for written in checkpoint_paths(first):  # an ordinary file's mode, not mkstemp's 0600
        assert os.stat(written).st_mode & 0o777 == 0o666 & ~umask


def test_a_folder_is_read_as_its_model_safetensors_and_a_missing_one_is_named(tmp_path, rng):
    model, X = _trained_bn_model(rng)
    _save(tmp_path / "job" / "model.safetensors", model)
    assert checkpoint_paths(tmp_path / "job") == (tmp_path / "job" / "model.safetensors", tmp_path / "job" / "model.json")
    loaded, meta = load_checkpoint(tmp_path / "job")
    assert meta["class_names"] == CLASSES
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "empty")
    message = str(err.value)
    assert f"checkpoint {tmp_path / 'empty' / 'model.safetensors'} not found" in message
    assert "is a folder" in message and "empty.safetensors" not in message
    with pytest.raises(CheckpointError, match=r"looked for .*nothing\.safetensors from the path .*nothing\)"):
        load_checkpoint(tmp_path / "nothing")


def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, rng, monkeypatch):
    import safetensors.numpy

    model, _ = _trained_bn_model(rng)
    path = _save(tmp_path / "model.safetensors", model)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def disk_full(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.numpy, "save_file", disk_full)
    with pytest.raises(CheckpointError, match="cannot write checkpoint .*model.safetensors: No space left on device"):
        _save(path, model)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    load_checkpoint(path)


def _rewrite_weights(path, edit_header):
    """Rewrite the weights file with its tensors and ``edit_header(header)``'s metadata (the embedded copy)."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(path), framework="np") as f:
        header = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    save_file(tensors, str(path), metadata=edit_header(header))


def _edit_meta(path, edit):
    """Edit the checkpoint's metadata where loading reads it: the copy embedded in the weights' header."""
    def change(header):
        meta = json.loads(header[META_KEY])
        edit(meta)
        return {**header, META_KEY: json.dumps(meta)}

    _rewrite_weights(path, change)


def _legacy(path):
    """Make the checkpoint at ``path`` one written before the metadata was embedded (sidecar only)."""
    _rewrite_weights(path, lambda header: {k: v for k, v in header.items() if k != META_KEY})
    return path


@pytest.mark.parametrize("change, message", [
    ({"hidden_dims": [7, 5]}, r"parameter 'W1' has shape \(8, 6\); the FullyConnectedNet architecture expects \(8, 7\)"),
    ({"dtype": "float64"}, r"parameter 'W1' has dtype float32; .* expects float64"),
    ({"activation": "prelu"}, r"parameter 'alpha1' of the FullyConnectedNet architecture is missing"),
    ({"normalization": None}, r"unexpected parameter\(s\) beta1, beta2, buffer.running_mean1"),
], ids=["shape", "dtype", "missing", "unexpected"])
def test_weights_that_do_not_fit_the_architecture_are_refused_naming_the_parameter(tmp_path, rng, change, message):
    model, _ = _trained_bn_model(rng)
    path = _save(tmp_path / "model.safetensors", model)
    _edit_meta(path, lambda m: m["architecture"].update(change))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


@pytest.mark.parametrize("damage", ["truncate", "garble", "delete"])
def test_corrupted_or_missing_weights(tmp_path, rng, damage):
    model, _ = _trained_bn_model(rng)
    path = _save(tmp_path / "model.safetensors", model)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garble":
        path.write_bytes(b"\xff" * 64 + data[64:])
    else:
        path.unlink()
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(path)


@pytest.mark.parametrize("content, message", [
    (None, "model.json not found"),
    ("{not json", "not a readable checkpoint sidecar"),
    ('{"format": "other"}', "not a babysit checkpoint"),
    ('{"format": "babysit-checkpoint", "format_version": 99}', "format version 99 is not supported"),
])
def test_corrupted_or_missing_sidecar_of_a_checkpoint_without_embedded_metadata(tmp_path, rng, content, message):
    model, _ = _trained_bn_model(rng)
    path = _legacy(_save(tmp_path / "model.safetensors", model))
    sidecar = checkpoint_paths(path)[1]
    if content is None:
        sidecar.unlink()
    else:
        sidecar.write_text(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_files_from_different_saves_are_refused_for_a_checkpoint_without_embedded_metadata(tmp_path, rng):
    model, _ = _trained_bn_model(rng)
    path = _legacy(_save(tmp_path / "a" / "model.safetensors", model))
    other = _save(tmp_path / "b" / "model.safetensors", model)
    checkpoint_paths(path)[1].write_bytes(checkpoint_paths(other)[1].read_bytes())
    with pytest.raises(CheckpointError, match="come from different saves"):
        load_checkpoint(path)


def test_a_checkpoint_written_before_the_embedding_still_loads_from_its_sidecar(tmp_path, rng):
    model, X = _trained_bn_model(rng)
    path = _legacy(_save(tmp_path / "model.safetensors", model))
    loaded, meta = load_checkpoint(path)
    np.testing.assert_array_equal(loaded.loss(X), model.loss(X))
    assert meta["class_names"] == CLASSES and checkpoint_meta(path)["class_names"] == CLASSES


@pytest.mark.parametrize("sidecar_state", ["stale", "missing", "garbled"])
def test_a_crash_between_the_two_renames_leaves_weights_that_load_as_saved(tmp_path, rng, sidecar_state):
    """A save killed after the weights' rename and before the sidecar's leaves the new weights beside the
    previous save's model.json (or none): the weights carry their own metadata, the pair is never mismatched."""
    old_model, _ = _trained_bn_model(rng)
    path = _save(tmp_path / "model.safetensors", old_model, class_names=["a", "b", "c", "d"])
    old_sidecar = checkpoint_paths(path)[1].read_bytes()
    new_model = FullyConnectedNet([3], input_dim=(1, 2, 4), num_classes=4, seed=1)
    _save(path, new_model, metrics={"best_val_acc": 0.9})
    sidecar = checkpoint_paths(path)[1]
    if sidecar_state == "stale":
        sidecar.write_bytes(old_sidecar)  # what the crash left: the new weights, the old model.json
    elif sidecar_state == "missing":
        sidecar.unlink()
    else:
        sidecar.write_text("{not json")
    loaded, meta = load_checkpoint(path)
    assert loaded.config() == new_model.config() and meta["class_names"] == CLASSES
    assert meta["metrics"] == {"best_val_acc": 0.9} and checkpoint_meta(path)["metrics"] == {"best_val_acc": 0.9}
    for k, v in new_model.params.items():
        np.testing.assert_array_equal(loaded.params[k], v)


def test_the_sidecar_is_a_copy_of_the_embedded_metadata(tmp_path, rng):
    model, _ = _trained_bn_model(rng)
    path = _save(tmp_path / "model.safetensors", model)
    assert json.loads(checkpoint_paths(path)[1].read_text()) == checkpoint_meta(path)


@pytest.mark.parametrize("header, message", [
    ({META_KEY: "{not json"}, "embedded metadata is not readable JSON"),
    ({META_KEY: "[1, 2]"}, r"\(its header\): not a babysit checkpoint"),
    ({META_KEY: '{"format": "babysit-checkpoint", "format_version": 1, "architecture": {}}'}, "lacks 'class_names'"),
    ({"checkpoint_id": "other"}, "embedded metadata names another checkpoint id"),
])
def test_damaged_embedded_metadata_is_refused_naming_the_file(tmp_path, rng, header, message):
    model, _ = _trained_bn_model(rng)
    path = _save(tmp_path / "model.safetensors", model)
    _rewrite_weights(path, lambda h: {**h, **header})
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_safetensors_file_that_is_not_a_babysit_checkpoint(tmp_path, rng):
    from safetensors.numpy import save_file

    model, _ = _trained_bn_model(rng)
    path = _save(tmp_path / "model.safetensors", model)
    save_file({"W1": np.zeros((8, 6), np.float32)}, str(path))
    with pytest.raises(CheckpointError, match="not a babysit checkpoint"):
        load_checkpoint(path)
