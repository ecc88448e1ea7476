"""PyTorch weights in and out: a state_dict saved with safetensors <-> a babysit model of the same architecture.

The PyTorch twin of a babysit model is an ``nn.Sequential`` with one module per babysit layer,
index for index (``torch_sequential(model)`` builds it where torch is installed), so its
state_dict names are ``"{i}.weight"``, ``"{i}.bias"`` (and ``running_mean``, ``running_var``,
``num_batches_tracked`` for BatchNorm). Layouts: an Affine ``W`` is (in, out), torch's Linear
weight (out, in): transposed both ways; conv weights (F, C, KH, KW), biases, BatchNorm's
gamma/beta (torch's weight/bias) and running statistics have the same layout. Only safetensors
files are read: a ``.pt``/``.pth`` pickle can run code when loaded, so it is refused with the
one-line recipe to convert it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from babysit.errors import CheckpointError

PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".pkl", ".ckpt")
CONVERT = ("convert it in PyTorch: from safetensors.torch import save_file; "
           "save_file(torch.load('{path}', weights_only=True), 'model.safetensors')")
IGNORED = ("num_batches_tracked",)  # torch's BatchNorm counter: no babysit counterpart


def torch_names(model) -> dict[str, tuple[object, str, bool]]:
    """torch state_dict name -> (babysit layer, its param or buffer name, transposed?) for ``model``."""
    from babysit.nn import Affine, BatchNorm, Conv2d, PReLU

    names = {}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Affine):
            names[f"{i}.weight"], names[f"{i}.bias"] = (layer, "W", True), (layer, "b", False)
        elif isinstance(layer, Conv2d):
            names[f"{i}.weight"], names[f"{i}.bias"] = (layer, "W", False), (layer, "b", False)
        elif isinstance(layer, BatchNorm):  # and SpatialBatchNorm
            names[f"{i}.weight"], names[f"{i}.bias"] = (layer, "gamma", False), (layer, "beta", False)
            names[f"{i}.running_mean"] = (layer, "running_mean", False)
            names[f"{i}.running_var"] = (layer, "running_var", False)
        elif isinstance(layer, PReLU):
            names[f"{i}.weight"] = (layer, "alpha", False)
        elif layer.params:
            raise CheckpointError(f"layer {i} ({layer!r}) has no PyTorch counterpart in babysit's mapping")
    return names


def _array(layer, name):
    return layer.params[name] if name in layer.params else getattr(layer, name)


def _public_name(model, layer, local) -> str:
    for public in model.params:
        if model.params.owner(public) == (layer, local):
            return public
    return local  # a buffer


def read_safetensors_only(path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file; CheckpointError for a pickle or an unreadable file."""
    from safetensors.numpy import load_file

    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(f"{path} is a PyTorch pickle, which can run arbitrary code when loaded, so babysit does "
                              f"not read it; {CONVERT.format(path=path)}")
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as exc:  # safetensors' own error types for garbled files
        raise CheckpointError(f"{path}: not a readable safetensors file ({type(exc).__name__}: {exc}); "
                              f"a pickle? {CONVERT.format(path=path)}") from None


def load_torch_state_dict(model, path) -> object:
    """Copy the PyTorch state_dict in the safetensors file ``path`` into ``model`` (in place); returns model.

    Every tensor of the twin must be there with the right shape (after transposing Affine weights), and no
    other; CheckpointError names the first that is missing, extra or mis-shaped, and nothing is copied then.
    """
    tensors = read_safetensors_only(path)
    names = torch_names(model)
    extra = sorted(k for k in tensors if k not in names and k.rsplit(".", 1)[-1] not in IGNORED)
    missing = [k for k in names if k not in tensors]
    if missing:
        layer, local, _ = names[missing[0]]
        raise CheckpointError(f"{path}: tensor '{missing[0]}' (babysit '{_public_name(model, layer, local)}') is "
                              f"missing{f', and {len(missing) - 1} more' if len(missing) > 1 else ''}; the file has "
                              f"{', '.join(sorted(tensors)) or 'no tensors'}")
    if extra:
        raise CheckpointError(f"{path}: unexpected tensor(s) {', '.join(extra)} for this {type(model).__name__} "
                              f"(expected {', '.join(names)})")
    values = {}
    for key, (layer, local, transposed) in names.items():
        target = _array(layer, local)
        value = np.asarray(tensors[key])
        value = value.T if transposed else value
        if value.shape != target.shape:
            shown = tuple(reversed(target.shape)) if transposed else target.shape
            raise CheckpointError(f"{path}: tensor '{key}' has shape {tuple(tensors[key].shape)}; babysit "
                                  f"'{_public_name(model, layer, local)}' needs {shown} in PyTorch's layout")
        values[key] = value
    for key, (layer, local, _) in names.items():
        np.copyto(_array(layer, local), values[key].astype(_array(layer, local).dtype, copy=False))
    return model


def torch_state_dict(model) -> dict[str, np.ndarray]:
    """The model's weights under PyTorch names and layouts (contiguous arrays, the model's dtype)."""
    out = {}
    for key, (layer, local, transposed) in torch_names(model).items():
        value = _array(layer, local)
        out[key] = np.ascontiguousarray(value.T if transposed else value)
        if local == "running_var":
            out[key.rsplit(".", 1)[0] + ".num_batches_tracked"] = np.zeros((), dtype=np.int64)
    return out


def export_torch(checkpoint, out) -> Path:
    """Write the checkpoint's model as a PyTorch state_dict (safetensors) at ``out``; returns the path."""
    from safetensors.numpy import save_file

    from babysit.fileio import atomic_path, dumps
    from babysit.train.checkpoint import load_checkpoint

    model, meta = load_checkpoint(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        save_file(torch_state_dict(model), str(tmp), metadata={
            "format": "pytorch-state-dict", "babysit_architecture": dumps(meta["architecture"]),
            "class_names": dumps(meta["class_names"]), "module": torch_module_text(model)})
    return out


def _twin_layers(model):
    """(constructor name, args, kwargs) of each PyTorch module mirroring the babysit layers, index for index."""
    from babysit.nn import Affine, BatchNorm, Conv2d, Dropout, Flatten, MaxPool2d, ReLU, SpatialBatchNorm

    for layer in model.layers:
        if isinstance(layer, Affine):
            yield "Linear", (layer.in_dim, layer.out_dim), {}
        elif isinstance(layer, Conv2d):
            yield "Conv2d", (layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.pad), {}
        elif isinstance(layer, SpatialBatchNorm):
            yield "BatchNorm2d", (layer.dim,), {"eps": layer.eps, "momentum": layer.momentum}
        elif isinstance(layer, BatchNorm):
            yield "BatchNorm1d", (layer.dim,), {"eps": layer.eps, "momentum": layer.momentum}
        elif type(layer) is ReLU:
            yield "ReLU", (), {}
        elif isinstance(layer, MaxPool2d):
            yield "MaxPool2d", (layer.size, layer.stride), {}
        elif isinstance(layer, Flatten):
            yield "Flatten", (), {}
        elif isinstance(layer, Dropout):
            yield "Dropout", (layer.p,), {}
        else:
            raise CheckpointError(f"{layer!r} has no PyTorch twin in babysit's mapping (ConvNet and ReLU "
                                  "FullyConnectedNet models have one)")


def torch_module_text(model) -> str:
    """The ``nn.Sequential(...)`` source of the model's PyTorch twin (written into an export's metadata)."""
    def call(name, args, kwargs):
        return f"nn.{name}({', '.join([*map(repr, args), *(f'{k}={v!r}' for k, v in kwargs.items())])})"

    return "nn.Sequential(" + ", ".join(call(*spec) for spec in _twin_layers(model)) + ")"


def torch_sequential(model):
    """The PyTorch twin of ``model`` (needs torch), with the model's weights loaded, in eval mode."""
    import torch
    from torch import nn

    module = nn.Sequential(*(getattr(nn, name)(*args, **kwargs) for name, args, kwargs in _twin_layers(model)))
    module.to(getattr(torch, np.dtype(model.dtype).name))
    module.load_state_dict({k: torch.from_numpy(np.array(v, copy=True)) for k, v in torch_state_dict(model).items()})
    return module.eval()
