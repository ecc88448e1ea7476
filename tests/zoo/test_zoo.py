"""The model zoo: entries round-trip with complete cards, adds are atomic, corrupted entries are refused."""

import json
import shutil

import numpy as np
import pytest

from babysit.errors import CheckpointError
from babysit.train.checkpoint import load_checkpoint
from babysit.zoo import CARD_FIELDS, Zoo, resolve_checkpoint, sha256_file

from cli.helpers import assert_one_line_error, babysit


def test_entry_round_trips_with_every_card_field(base_checkpoint, tmp_path):
    zoo = Zoo(tmp_path / "zoo", shipped=None)
    card = zoo.add("digits-lo", base_checkpoint, description="digits 0-4", license="CC0-1.0", made_with="babysit train")
    assert set(CARD_FIELDS) <= set(card)
    assert zoo.names() == ["digits-lo"] and zoo.card("digits-lo") == card
    assert card["sha256"] == sha256_file(base_checkpoint / "model.safetensors")
    assert card["class_names"] == ["0", "1", "2", "3", "4"]
    assert card["input"] == {**card["input"], "shape": [1, 8, 8], "layout": "NCHW"}
    assert card["layers"]["classifier"] == 3 and card["layers"]["body"] == [1, 2]
    assert card["params"]["W1"] == [4, 1, 3, 3] and card["recipe"]["update"] == "adam"
    assert card["preprocessing"]["config"]["kind"] == "standardize"
    assert card["trained_on"]["data"] == "digits?classes=0-4" and card["license"] == "CC0-1.0"
    original, _ = load_checkpoint(base_checkpoint)
    loaded, _ = load_checkpoint(zoo.checkpoint("digits-lo"))
    assert all(np.array_equal(original.params[k], loaded.params[k]) for k in original.params)
    exported = zoo.export("digits-lo", tmp_path / "exported")
    assert sha256_file(exported / "model.safetensors") == card["sha256"]
    zoo.remove("digits-lo")
    assert zoo.names() == [] and not any((tmp_path / "zoo").iterdir())


def test_sha256_mismatch_and_truncation_are_refused(base_checkpoint, tmp_path):
    zoo = Zoo(tmp_path / "zoo", shipped=None)
    zoo.add("m", base_checkpoint)
    weights = tmp_path / "zoo" / "m" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 .* but its card says"):
        zoo.checkpoint("m")
    weights.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(CheckpointError, match="corrupted"):
        zoo.checkpoint("m")
    (tmp_path / "zoo" / "m" / "card.json").write_text('{"format": "babysit-model-card", "format_vers')
    with pytest.raises(CheckpointError, match="not a readable card"):
        zoo.card("m")


def test_a_failed_add_leaves_no_entry_and_no_staging(base_checkpoint, tmp_path, monkeypatch):
    import babysit.zoo.registry as registry

    zoo = Zoo(tmp_path / "zoo", shipped=None)

    def fail(path, text):  # the card is written last, after the weights and the sidecar
        assert (path.parent / "model.safetensors").is_file() and (path.parent / "model.json").is_file()
        raise OSError("disk full")

    monkeypatch.setattr(registry, "atomic_write", fail)
    with pytest.raises(OSError, match="disk full"):
        zoo.add("half", base_checkpoint)
    assert zoo.names() == [] and list((tmp_path / "zoo").iterdir()) == []


def test_staging_left_by_a_killed_add_is_invisible_and_swept(base_checkpoint, tmp_path):
    root = tmp_path / "zoo"
    (root / ".staging-x-1234").mkdir(parents=True)
    (root / ".staging-x-1234" / "model.safetensors").write_bytes(b"half")
    zoo = Zoo(root, shipped=None)
    assert zoo.names() == []
    zoo.add("x", base_checkpoint)
    assert sorted(p.name for p in root.iterdir()) == ["x"]


def test_unknown_name_lists_the_known_ones(base_checkpoint, tmp_path):
    zoo = Zoo(tmp_path / "zoo", shipped=None)
    zoo.add("alpha", base_checkpoint)
    with pytest.raises(CheckpointError, match=r"no model 'beta'.*known: alpha"):
        resolve_checkpoint("beta", zoo)
    assert resolve_checkpoint(str(base_checkpoint), zoo) == base_checkpoint


def test_add_refuses_an_existing_name_unless_replace(base_checkpoint, tmp_path):
    zoo = Zoo(tmp_path / "zoo", shipped=None)
    first = zoo.add("a", base_checkpoint, description="one")
    with pytest.raises(CheckpointError, match="already"):
        zoo.add("a", base_checkpoint)
    assert zoo.add("a", base_checkpoint, description="two", replace=True)["description"] == "two"
    assert first["sha256"] == zoo.card("a")["sha256"] and zoo.names() == ["a"]


def test_zoo_cli_list_show_add_remove_export_and_errors(base_checkpoint, tmp_path):
    zoo = tmp_path / "zoo"
    added = babysit("zoo", "add", "cli-model", "--checkpoint", base_checkpoint, "--zoo", zoo, "--license", "MIT")
    assert added.returncode == 0, added.stderr
    listed = babysit("zoo", "list", "--zoo", zoo)
    assert "cli-model" in listed.stdout and "local" in listed.stdout
    shown = babysit("zoo", "show", "cli-model", "--json", "--zoo", zoo)
    assert json.loads(shown.stdout)["license"] == "MIT"
    assert babysit("zoo", "export", "cli-model", "--out", tmp_path / "ex", "--zoo", zoo).returncode == 0
    assert (tmp_path / "ex" / "card.json").is_file()
    assert_one_line_error(babysit("zoo", "show", "nope", "--zoo", zoo), "no model 'nope'", "cli-model")
    assert_one_line_error(babysit("zoo", "add", "bad name!", "--checkpoint", base_checkpoint, "--zoo", zoo), "not valid")
    (zoo / "cli-model" / "model.safetensors").write_bytes(b"\x00" * 10)
    assert_one_line_error(babysit("zoo", "export", "cli-model", "--out", tmp_path / "ex2", "--zoo", zoo), "sha256")
    assert babysit("zoo", "remove", "cli-model", "--zoo", zoo).returncode == 0
    after = babysit("zoo", "list", "--zoo", zoo).stdout
    assert "cli-model" not in after and "cifar10-convnet" in after and "shipped" in after  # shipped ones stay


def test_portable_text_makes_absolute_paths_relative_or_cuts_them_to_the_name(tmp_path):
    from babysit.zoo.portable import portable_text

    repo = tmp_path / "repo"
    assert portable_text(f"folder:{tmp_path}/shared/data/x.tar.gz?classes=0-4", repo) == \
        "folder:../shared/data/x.tar.gz?classes=0-4"
    assert portable_text(f"npz:{repo}/d/a.npz", repo) == "npz:d/a.npz"
    assert portable_text("folder:/home/someone/photos.tar.gz", repo) == "folder:photos.tar.gz"
    assert portable_text("~/data/b.npz", repo) == "b.npz"
    for unchanged in ("digits?classes=0-4", "top:2", "cifar10-convnet", "conv:16,32/64", "folder:rel/x"):
        assert portable_text(unchanged, repo) == unchanged


def test_an_entry_holds_no_path_of_the_machine_and_keeps_its_tensors_and_sha256(tmp_path, monkeypatch):
    from safetensors.numpy import load_file

    from babysit.train.checkpoint import checkpoint_meta
    from babysit.train.recipe import TrainConfig, train_model
    from babysit.zoo.portable import absolute_paths

    rng = np.random.default_rng(0)
    data = tmp_path / "elsewhere" / "blobs.npz"
    data.parent.mkdir()
    np.savez(data, X=rng.standard_normal((60, 1, 4, 4)), y=np.arange(60) % 3)
    out = tmp_path / "elsewhere" / "run"
    train_model(TrainConfig(data=f"npz:{data}", model="fc:8", epochs=1, batch_size=20), out, verbose=False)
    assert absolute_paths(checkpoint_meta(out))  # the checkpoint itself records where it came from
    monkeypatch.chdir(tmp_path / "elsewhere")
    zoo = Zoo(tmp_path / "zoo", shipped=None)
    card = zoo.add("blobs", out, made_with=f"babysit train --data npz:{data} --out {out}")
    entry = zoo.checkpoint("blobs")  # sha256 checked
    assert card["sha256"] == sha256_file(entry / "model.safetensors")
    assert card["trained_on"]["data"] == "npz:blobs.npz" and card["made_with"] == \
        "babysit train --data npz:blobs.npz --out run"
    for meta in (json.loads((entry / "model.json").read_text()), checkpoint_meta(entry), card):
        assert absolute_paths(meta) == [], absolute_paths(meta)
    before, after = load_file(str(out / "model.safetensors")), load_file(str(entry / "model.safetensors"))
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
    model, _ = load_checkpoint(entry)
    X = rng.standard_normal((5, 1, 4, 4))
    np.testing.assert_array_equal(model.loss(X), load_checkpoint(out)[0].loss(X))


def test_the_shipped_model_holds_no_path_of_the_machine_that_made_it():
    from babysit.zoo.portable import absolute_paths

    zoo = Zoo(None)
    entry = zoo.checkpoint("cifar10-convnet")  # its sha256 still matches
    for name in ("model.json", "card.json"):
        assert absolute_paths(json.loads((entry / name).read_text())) == [], name
    assert json.loads((entry / "model.json").read_text())["train_config"]["data"] == \
        "folder:../shared/data/cifar10-train-jpeg.tar.gz"
