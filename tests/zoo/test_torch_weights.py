"""PyTorch weights: import gives the PyTorch model's logits (to 1e-5), export round-trips, bad files are refused."""

import numpy as np
import pytest

from babysit.errors import CheckpointError
from babysit.nn import ConvNet, FullyConnectedNet
from babysit.zoo.torch_weights import (
    export_torch, load_torch_state_dict, torch_module_text, torch_sequential, torch_state_dict,
)


def _conv(seed):
    return ConvNet(input_dim=(3, 8, 8), conv_channels=[4, 6], hidden_dims=[10], num_classes=3,
                   normalization="batchnorm", seed=seed)


def _torch_twin(torch, model):
    from torch import nn

    torch.manual_seed(0)
    module = eval(torch_module_text(model), {"nn": nn})  # noqa: S307 - the text of our own twin, in a test
    for m in module.modules():  # non-trivial running statistics, so eval mode is tested
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    return module.eval()


@pytest.mark.parametrize("make", [_conv, lambda seed: FullyConnectedNet([7, 5], input_dim=12, num_classes=4,
                                                                         normalization="batchnorm", seed=seed)],
                         ids=["convnet", "fc"])
def test_imported_weights_give_the_pytorch_logits(torch, tmp_path, make):
    from safetensors.torch import save_file

    model = make(1)
    module = _torch_twin(torch, model)
    path = tmp_path / "torch.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    load_torch_state_dict(model, path)
    X = np.random.default_rng(0).standard_normal((6, *model.input_shape)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(model.loss(X), expected, rtol=1e-5, atol=1e-5)


def test_export_round_trips_and_loads_in_pytorch(torch, tmp_path):
    from babysit.train.checkpoint import save_checkpoint

    model = _conv(2)
    model.layers[1].running_mean[...] = 0.3  # a buffer that must travel too
    save_checkpoint(tmp_path / "ck" / "model.safetensors", model, class_names=["a", "b", "c"])
    path = export_torch(tmp_path / "ck", tmp_path / "torch" / "model.safetensors")
    module = torch_sequential(model)
    from safetensors.torch import load_file

    module.load_state_dict(load_file(str(path)))  # strict: every name and shape of the twin
    X = np.random.default_rng(1).standard_normal((5, 3, 8, 8)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(X)).numpy(), model.loss(X), rtol=1e-5, atol=1e-5)
    back = _conv(3)
    load_torch_state_dict(back, path)
    assert all(np.array_equal(back.params[k], model.params[k]) for k in model.params)
    assert np.array_equal(back.layers[1].running_mean, model.layers[1].running_mean)


def test_missing_extra_and_misshapen_tensors_are_named(tmp_path):
    from safetensors.numpy import save_file

    model = _conv(0)
    state = torch_state_dict(model)
    path = tmp_path / "w.safetensors"
    save_file({k: v for k, v in state.items() if k != "4.weight"}, str(path))
    with pytest.raises(CheckpointError, match=r"tensor '4.weight' \(babysit 'W2'\) is missing"):
        load_torch_state_dict(model, path)
    save_file({**state, "99.weight": np.zeros(3, np.float32)}, str(path))
    with pytest.raises(CheckpointError, match=r"unexpected tensor\(s\) 99.weight"):
        load_torch_state_dict(model, path)
    bad = dict(state)
    last = f"{len(model.layers) - 1}.weight"  # the classifier's Linear
    bad[last] = np.zeros((5, bad[last].shape[1]), np.float32)
    save_file(bad, str(path))
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(CheckpointError, match=rf"tensor '{last}' has shape \(5, 10\); babysit 'W4' needs \(3, 10\)"):
        load_torch_state_dict(model, path)
    assert all(np.array_equal(before[k], model.params[k]) for k in before)  # nothing half-copied


def test_pickles_are_refused_with_how_to_convert(tmp_path):
    path = tmp_path / "model.pth"
    path.write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(CheckpointError, match=r"can run arbitrary code.*safetensors.torch import save_file"):
        load_torch_state_dict(_conv(0), path)


@pytest.mark.slow
def test_zoo_cli_exports_torch_weights_and_imports_them_back(base_checkpoint, tmp_path):
    from cli.helpers import assert_one_line_error, babysit

    zoo = tmp_path / "zoo"
    assert babysit("zoo", "add", "m", "--checkpoint", base_checkpoint, "--zoo", zoo).returncode == 0
    exported = babysit("zoo", "export", "m", "--torch", "--out", tmp_path / "t", "--zoo", zoo)
    assert exported.returncode == 0, exported.stderr
    back = babysit("zoo", "add", "m2", "--checkpoint", base_checkpoint, "--torch-weights",
                   tmp_path / "t" / "model.safetensors", "--zoo", zoo)
    assert back.returncode == 0, back.stderr
    from babysit.train.checkpoint import load_checkpoint

    a, _ = load_checkpoint(base_checkpoint)
    b, meta = load_checkpoint(zoo / "m2")
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    (tmp_path / "w.pt").write_bytes(b"\x80\x02")
    assert_one_line_error(babysit("zoo", "add", "m3", "--checkpoint", base_checkpoint, "--torch-weights",
                                  tmp_path / "w.pt", "--zoo", zoo), "arbitrary code", "save_file")
