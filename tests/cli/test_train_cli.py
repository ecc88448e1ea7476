"""`babysit train` and `babysit eval` as real subprocesses: output, files, and one-line errors."""

import json
import re
import shutil

import pytest

from babysit.doctor.causes import CAUSES

from .helpers import assert_one_line_error, babysit


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A digits model trained by the CLI: (directory, completed process)."""
    cwd = tmp_path_factory.mktemp("train")
    proc = babysit("train", "--data", "digits", "--model", "fc:32", "--epochs", "3", "--lr", "1e-2",
                   "--preprocess", "standardize", "--seed", "1", "--out", "run", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return cwd, proc


def test_train_prints_the_lectures_lines_and_saves_the_best_model(trained):
    cwd, proc = trained
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"Finished epoch 1 / 3: cost \d\.\d{6}, train: \d\.\d{6}, val \d\.\d{6}, lr 1\.000000e-02", lines[0])
    assert lines[2].endswith("lr 9.025000e-03")  # the default per-epoch decay 0.95
    assert lines[3].startswith("finished optimization. best validation accuracy: ")
    assert lines[4].startswith("status: finished after 3 epoch(s), 42 iterations")
    assert proc.stderr == ""
    assert sorted(p.name for p in (cwd / "run").iterdir()) == ["model.json", "model.safetensors"]
    meta = json.loads((cwd / "run" / "model.json").read_text())
    assert meta["train_config"]["model"] == "fc:32" and meta["metrics"]["status"] == "finished"
    assert meta["class_names"] == [str(i) for i in range(10)]


def test_train_with_store_records_the_run_for_babysit_runs(tmp_path):
    proc = babysit("train", "--data", "digits", "--model", "fc:16", "--epochs", "2", "--lr", "1e-2", "--quiet",
                   "--store", "runs.sqlite", "--out", "m", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "recorded as run 1 in runs.sqlite" in proc.stdout
    listed = babysit("runs", "--store", "runs.sqlite", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert run["search"] is None and run["status"] == "finished" and run["epochs"] == 2
    assert run["params"]["model"] == "fc:16" and run["params"]["lr"] == 1e-2
    best = float(re.search(r"best validation accuracy: (\d\.\d{4})", proc.stdout).group(1))
    assert run["val_acc"] == pytest.approx(best, abs=5e-5)


def test_train_with_the_numba_kernels_gives_the_numpy_run_and_records_the_kernels(tmp_path):
    """``--kernels numba`` (the fused conv's and the update rules' numba kernels): the same losses as the NumPy
    kernels, bit for bit, and the run's record says which kernels it ran with."""
    pytest.importorskip("numba", reason="the numba kernels are optional: pip install 'babysit[numba]'")
    from babysit.store import RunStore

    losses = {}
    for kernels in ("numpy", "numba"):
        proc = babysit("train", "--data", "digits", "--model", "conv:4", "--epochs", "1", "--lr", "1e-2", "--quiet",
                       "--kernels", kernels, "--store", f"{kernels}.sqlite", "--out", kernels, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        with RunStore(tmp_path / f"{kernels}.sqlite", readonly=True) as store:
            (run,) = store.runs()
            assert run["extra"]["kernels"] == kernels
            losses[kernels] = list(store.metric_series(run["id"], "loss")[1])
    assert len(losses["numpy"]) > 10 and losses["numpy"] == losses["numba"]


def test_train_with_the_numba_kernels_where_numba_is_missing_is_one_line(tmp_path):
    """A folder on PYTHONPATH whose ``numba`` raises ImportError stands for a machine without numba."""
    import os
    import subprocess
    import sys

    fake = tmp_path / "no_numba" / "numba"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named numba')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "babysit", "train", "--data", "digits", "--kernels", "numba",
                           "--out", "out"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert_one_line_error(proc, "the numba kernels need numba", "pip install 'babysit[numba]'")
    assert not (tmp_path / "out").exists()


def test_train_ends_with_a_diagnosis_of_the_run(trained):
    _, proc = trained
    out = proc.stdout
    assert "diagnosis of the run:" in out
    diagnosis = out.split("diagnosis of the run:", 1)[1].splitlines()[1:]
    checks = [line.split()[1] for line in diagnosis if line.startswith("  ") and len(line.split()) > 2][:4]
    assert checks == ["loss_curve", "accuracy_gap", "update_ratios", "unit_health"]


def test_train_monitors_go_to_the_plots_and_the_store(tmp_path):
    from babysit.store import RunStore

    proc = babysit("train", "--data", "digits", "--model", "fc:16", "--epochs", "3", "--lr", "1e-2", "--quiet",
                   "--plots", "plots", "--store", "runs.sqlite", "--out", "m", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "accuracy.png", "activation_histograms.png", "loss.png", "update_ratios.png", "weights.png"]
    with RunStore(tmp_path / "runs.sqlite", readonly=True) as store:
        (run,) = store.runs()
        kinds = set(store.metric_kinds(run["id"]))
        assert {"update_ratio:W1", "grad_norm:W2", "weight_std:W1", "act_std:relu1", "dead:relu1"} <= kinds
        findings = store.findings(run["id"])
        assert [f["check"] for f in findings] == [
            "loss_curve", "accuracy_gap", "update_ratios", "unit_health", "diagnosis"]
        # the store keeps the cause inside details_json (issue 10's contract)
        assert findings[-1]["details"]["cause"] in CAUSES


def test_train_without_monitors_diagnoses_the_curves_only(tmp_path):
    proc = babysit("train", "--data", "digits", "--model", "fc:16", "--epochs", "2", "--quiet", "--monitor-every", "0",
                   "--out", "m", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "loss_curve" in proc.stdout and "update_ratios" not in proc.stdout
    bad = babysit("train", "--monitor-every", "-1", "--out", "m2", cwd=tmp_path)
    assert_one_line_error(bad, "--monitor-every must be an int in [0, inf). Got -1 instead.")
    assert not (tmp_path / "m2").exists()


def test_eval_reproduces_the_best_validation_accuracy(trained):
    cwd, proc = trained
    best = float(re.search(r"best validation accuracy: (\d\.\d+)", proc.stdout).group(1))
    ev = babysit("eval", "--checkpoint", "run/model.safetensors", "--data", "digits", "--split", "val", "--json",
                 cwd=cwd)
    assert ev.returncode == 0, ev.stderr
    result = json.loads(ev.stdout)
    assert set(result) == {"accuracy", "loss", "per_class"}
    assert result["accuracy"] == pytest.approx(best, abs=5e-7)  # same split (seed), same preprocessing
    assert list(result["per_class"]) == [str(i) for i in range(10)]
    assert 0 < result["loss"] < 2.5


def test_eval_prints_a_readable_report(trained):
    cwd, _ = trained
    ev = babysit("eval", "--checkpoint", "run/model.safetensors", "--data", "digits", cwd=cwd)
    assert ev.returncode == 0, ev.stderr
    lines = ev.stdout.splitlines()
    assert lines[0] == "test split of digits: 180 examples"
    assert re.fullmatch(r"accuracy 0\.\d{4}   loss \d\.\d{4}", lines[1])
    assert len(lines) == 12 and lines[2].split()[0] == "0"


def test_an_exploding_run_keeps_the_existing_checkpoint(trained):
    cwd, _ = trained
    before = {p.name: p.read_bytes() for p in (cwd / "run").iterdir()}
    proc = babysit("train", "--data", "digits", "--model", "fc:32", "--lr", "1e6", "--update", "sgd",
                   "--out", "run", "--fresh", cwd=cwd)  # --fresh: another training's checkpoint is there
    assert proc.returncode == 1
    assert "stopped early (exploded)" in proc.stdout or "stopped early (diverged)" in proc.stdout
    assert "no checkpoint written" in proc.stdout and "Traceback" not in proc.stderr
    assert {p.name: p.read_bytes() for p in (cwd / "run").iterdir()} == before


@pytest.mark.parametrize("args, fragment", [
    (["--data", "foo:bar"], "unknown data source 'foo:bar'"),
    (["--data", "cifar10:/no/such/dir"], "/no/such/dir"),
    (["--model", "mlp:100"], "--model"),
    (["--schedule", "linear"], "--schedule"),
    (["--preprocess", "pca"], "pca"),
    (["--update", "adagrad"], "adagrad"),
    (["--epochs", "1", "--batch-size", "0"], "--batch-size must be an int in [1, inf). Got 0 instead."),
    (["--reg", "nan"], "--reg must be a float in [0, inf). Got nan instead."),
    (["--epochs", "0"], "--epochs must be an int in [1, inf). Got 0 instead."),
    (["--dropout", "1.5"], "--dropout must be a float in [0, 1). Got 1.5 instead."),
    (["--model", "fc:"], "--model"),
    (["--kernels", "cuda"], "--kernels: invalid choice: 'cuda'"),
])
def test_train_bad_input_is_one_line(tmp_path, args, fragment):
    proc = babysit("train", *args, "--out", "out", cwd=tmp_path)
    assert_one_line_error(proc, fragment)
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_train_on_a_corrupted_cifar_batch_is_one_line(tmp_path, shared_data):
    batches = tmp_path / "cifar"
    shutil.copytree(shared_data / "cifar-10-batches-py-sample", batches)
    data = (batches / "data_batch_3").read_bytes()
    (batches / "data_batch_3").write_bytes(data[: len(data) // 3])
    assert_one_line_error(babysit("train", "--data", f"cifar10:{batches}", "--out", "out", cwd=tmp_path),
                          "data_batch_3")


def test_train_a_convnet_on_cifar_batches(tmp_path, shared_data):
    proc = babysit("train", "--data", f"cifar10:{shared_data / 'cifar-10-batches-py-sample'}", "--model",
                   "conv:4", "--epochs", "1", "--batch-size", "50",
                   "--out", "conv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "conv" / "model.json").read_text())
    assert meta["architecture"]["type"] == "ConvNet" and meta["class_names"][0] == "airplane"


def test_eval_bad_input_is_one_line(trained, tmp_path, shared_data):
    cwd, _ = trained
    assert_one_line_error(babysit("eval", "--checkpoint", "nothing.safetensors", "--data", "digits", cwd=cwd),
                          "nothing.safetensors not found")
    # a digits model on CIFAR-10: the classes do not match, refused by name
    assert_one_line_error(
        babysit("eval", "--checkpoint", "run/model.safetensors", "--data",
                f"cifar10:{shared_data / 'cifar-10-batches-py-sample'}", cwd=cwd),
        "do not match")
    # a checkpoint whose weights belong to another architecture
    other = tmp_path / "other"
    shutil.copytree(cwd / "run", other)
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(other / "model.safetensors"), framework="np") as f:  # the metadata loading reads: embedded
        header, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    meta = json.loads(header["babysit_meta"])
    meta["architecture"]["hidden_dims"] = [64]
    save_file(tensors, str(other / "model.safetensors"), metadata={**header, "babysit_meta": json.dumps(meta)})
    assert_one_line_error(babysit("eval", "--checkpoint", other / "model.safetensors", "--data", "digits",
                                  cwd=cwd), "parameter 'W1' has shape (64, 32)", "expects (64, 64)")
    # a truncated weights file
    data = (other / "model.safetensors").read_bytes()
    (other / "model.safetensors").write_bytes(data[:100])
    assert_one_line_error(babysit("eval", "--checkpoint", other / "model.safetensors", "--data", "digits",
                                  cwd=cwd), "not a readable safetensors file")


def test_train_json_writes_the_diagnoses_with_the_result_and_advice_in_flags(tmp_path):
    # issue 10: the README's fc:100,100 --lr 1e-3 cosine run is "lr too low", not "more capacity", and the
    # command line is told flags (not Python arguments); --json holds the result and the diagnoses
    import json

    out = tmp_path / "run.json"
    proc = babysit("train", "--model", "fc:100,100", "--lr", "1e-3", "--reg", "1e-3", "--epochs", "10",
                   "--schedule", "cosine", "--quiet", "--out", str(tmp_path / "m"), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "--lr 0.01" in proc.stdout and "lr=0.01" not in proc.stdout and "capacity" not in proc.stdout
    doc = json.loads(out.read_text())
    diagnosis = doc["findings"][-1]
    assert diagnosis["check"] == "diagnosis" and diagnosis["cause"] == "lr_too_low"
    assert diagnosis["details"]["cause"] == "lr_too_low" and 0 < diagnosis["details"]["confidence"] <= 1
    assert doc["result"]["status"] == "finished" and doc["result"]["settings"]["lr"] == 1e-3
