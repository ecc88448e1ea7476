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
    zoo = Zoo(tmp_path / "zoo", shipped=None)
    calls, real_copy = [], shutil.copyfile

    def copy_then_fail(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_copy(src, dst)

    monkeypatch.setattr(shutil, "copyfile", copy_then_fail)
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
