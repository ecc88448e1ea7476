"""The restricted unpickler: CIFAR-10 batches load, anything that would run code is refused."""

import os
import pickle
import shutil
import subprocess

import numpy as np
import pytest

from babysit.data import load_source, safe_unpickle, safe_unpickle_file
from babysit.errors import DataError


class _RunsShell:
    """Unpickling this with plain pickle runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _RunsPopen:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (subprocess.Popen, (["touch", self.marker],))


def test_the_crafted_pickle_really_runs_code_with_plain_pickle(tmp_path):
    """Control: the payload is live, so the refusal below is meaningful."""
    marker = tmp_path / "pwned-control"
    pickle.loads(pickle.dumps(_RunsShell(marker), protocol=2))
    assert marker.exists()


@pytest.mark.parametrize("payload", [_RunsShell, _RunsPopen])
def test_code_running_pickle_is_refused_and_runs_nothing(tmp_path, payload):
    marker = tmp_path / "pwned"
    evil = {"batch_label": "x", "labels": [0], "data": payload(marker)}
    with pytest.raises(DataError, match=r"refused to unpickle global '(posix\.system|subprocess\.Popen|commands\.Popen)'"):
        safe_unpickle(pickle.dumps(evil, protocol=2))
    assert not marker.exists()


def test_malicious_batch_in_a_cifar_directory_is_refused(cifar_sample_dir, tmp_path):
    target = tmp_path / "cifar"
    shutil.copytree(cifar_sample_dir, target)
    marker = tmp_path / "pwned-batch"
    batch = target / "data_batch_1"
    batch.chmod(0o644)
    batch.write_bytes(pickle.dumps({"data": _RunsShell(marker), "labels": [0]}, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_1: refused to unpickle global 'posix\.system'") as info:
        load_source(f"cifar10:{target}")
    assert not marker.exists()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "global_name",
    [b"builtins\neval", b"builtins\ngetattr", b"numpy\nload", b"numpy.ma.core\nMaskedArray", b"os\nsystem"],
)
def test_any_other_global_is_refused_by_name(global_name):
    data = b"\x80\x02c" + global_name + b"\n)R."
    module, name = global_name.decode().split("\n")
    with pytest.raises(DataError, match=f"refused to unpickle global '{module}.{name}'"):
        safe_unpickle(data)


def test_object_arrays_are_refused():
    data = pickle.dumps({"data": np.array([1, "x"], dtype=object)}, protocol=2)
    with pytest.raises(DataError, match="dtype object"):
        safe_unpickle(data)


def test_official_batch_loads(cifar_sample_dir):
    batch = safe_unpickle_file(cifar_sample_dir / "data_batch_1")
    assert batch["data"].shape == (200, 3072) and batch["data"].dtype == np.uint8
    assert batch["batch_label"] == "training batch 1 of 5"
    assert len(batch["labels"]) == 200 and all(isinstance(v, int) for v in batch["labels"])


def test_official_batch_names_the_numpy_1_global(cifar_sample_dir):
    """The fixture is a real NumPy-1 pickle: it names numpy.core.multiarray._reconstruct."""
    assert b"numpy.core.multiarray\n_reconstruct" in (cifar_sample_dir / "data_batch_1").read_bytes()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_numeric_arrays_written_by_this_numpy_load(protocol):
    arrays = {"data": np.arange(12, dtype=np.uint8).reshape(3, 4), "f": np.linspace(0, 1, 5)}
    out = safe_unpickle(pickle.dumps(arrays, protocol=protocol))
    assert np.array_equal(out["data"], arrays["data"]) and np.array_equal(out["f"], arrays["f"])


def test_truncated_pickle_is_a_data_error():
    data = pickle.dumps({"data": np.zeros(100, dtype=np.uint8)}, protocol=2)
    with pytest.raises(DataError, match="batch.bin: corrupted or truncated"):
        safe_unpickle(data[: len(data) // 2], where="batch.bin")
