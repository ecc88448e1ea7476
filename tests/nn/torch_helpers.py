"""The one helper for "this babysit op vs PyTorch": same parameters, same input, same upstream gradient.

Everything runs in float64 on both sides, so disagreements are bugs, not rounding.
Parameters are linked by name: ``{"W": ParamLink("weight", transpose=True)}`` says the
babysit ``W`` is the transpose of the torch module's ``weight`` (Affine/Maxout keep
W as (in, out); torch.nn.Linear keeps (out, in)). Layers, models, losses and update
rules each have an ``assert_..._matches_torch``.

Tests that call these take the ``torch`` fixture (tests/conftest.py): it skips them where
torch is missing, and marks them ``torch``. This module imports torch only when a helper runs.
"""

from __future__ import annotations

import copy

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass

import numpy as np

RTOL = 1e-9
ATOL = 1e-11


def _torch():
    import torch  # callers run under the ``torch`` fixture, which has skipped them where this fails

    return torch


@dataclass(frozen=True)
class ParamLink:
    """Where a babysit parameter lives in a torch module (dotted path) and whether its layout is transposed."""

    torch_name: str
    transpose: bool = False

    def to_torch(self, a: np.ndarray) -> np.ndarray:
        return a.T if self.transpose else a

    def from_torch(self, t) -> np.ndarray:
        a = t.detach().numpy()
        return a.T if self.transpose else a


def torch_tensor(module, dotted: str):
    """The parameter or buffer ``dotted`` (e.g. ``"0.weight"``, ``"running_mean"``) of ``module``."""
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def copy_params_to_torch(params: Mapping[str, np.ndarray], module, links: Mapping[str, ParamLink]) -> None:
    """Overwrite the linked torch parameters with babysit's values (module becomes float64)."""
    torch = _torch()
    module.double()
    with torch.no_grad():
        for name, link in links.items():
            t = torch_tensor(module, link.torch_name)
            value = np.ascontiguousarray(link.to_torch(np.asarray(params[name], dtype=np.float64)))
            assert t.shape == value.shape, f"{name} -> {link.torch_name}: {value.shape} vs {tuple(t.shape)}"
            t.copy_(torch.from_numpy(value))


def copy_params_from_torch(module, params: MutableMapping[str, np.ndarray], links: Mapping[str, ParamLink]) -> None:
    """Overwrite babysit's parameters with the linked torch values (in place, keeping babysit's dtype)."""
    for name, link in links.items():
        value = link.from_torch(torch_tensor(module, link.torch_name))
        params[name][...] = value


def _compare(what: str, ours, theirs, rtol: float, atol: float) -> None:
    ours = np.asarray(ours)
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=f"{what} differs from PyTorch")


def assert_layer_matches_torch(layer, module, x: np.ndarray, links: Mapping[str, ParamLink] | None = None, *,
                               train: bool = True, dout: np.ndarray | None = None,
                               buffers: Mapping[str, str] | None = None,
                               torch_forward: Callable | None = None,
                               rtol: float = RTOL, atol: float = ATOL, seed: int = 0) -> dict:
    """Assert forward output, input gradient, every parameter gradient (and buffers) match PyTorch.

    Inputs: a float64 babysit ``layer`` and a torch ``module`` (its parameters are overwritten
        with the layer's through ``links``, which must cover every babysit parameter); x float64;
        ``buffers`` {babysit attribute: torch buffer} copied into torch first and compared after
        the step (running statistics);
        ``torch_forward(module, x_tensor)`` replaces ``module(x)`` where torch needs more than a call.
    Returns: {'out': ..., 'dx': ..., '<param>': grad} from babysit, for further checks.
    """
    torch = _torch()
    assert x.dtype == np.float64, "parity tests run in float64"
    links = dict(links or {})
    assert set(links) == set(layer.params), f"links {sorted(links)} must cover params {sorted(layer.params)}"
    copy_params_to_torch(layer.params, module, links)
    layer.train(train)
    module.train(train)
    module.zero_grad(set_to_none=True)  # torch accumulates into .grad across calls; babysit overwrites
    with torch.no_grad():  # both start from babysit's buffers (e.g. running statistics)
        for ours, theirs in (buffers or {}).items():
            torch_tensor(module, theirs).copy_(torch.from_numpy(np.array(getattr(layer, ours), np.float64)))
    if dout is None:  # shape from a throwaway copy, so the layer's RNG and running stats stay untouched
        out_shape = copy.deepcopy(layer).forward(x.copy()).shape
        dout = np.random.default_rng(seed).standard_normal(out_shape)

    out = layer.forward(x.copy())
    dx = layer.backward(dout.copy())
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out_t = torch_forward(module, xt) if torch_forward else module(xt)
    out_t.backward(torch.from_numpy(dout))

    _compare(f"{layer!r} forward output", out, out_t, rtol, atol)
    _compare(f"{layer!r} input gradient", dx, xt.grad, rtol, atol)
    result = {"out": out, "dx": dx}
    for name, link in links.items():
        t = torch_tensor(module, link.torch_name)
        _compare(f"{layer!r} gradient of {name}", layer.grads[name], link.from_torch(t.grad), rtol, atol)
        result[name] = layer.grads[name]
    for ours, theirs in (buffers or {}).items():
        _compare(f"{layer!r} {ours}", getattr(layer, ours), torch_tensor(module, theirs), rtol, atol)
    return result


def assert_model_matches_torch(model, module, links: Mapping[str, ParamLink], X: np.ndarray, y: np.ndarray, *,
                               buffers: Mapping[str, str] | None = None,
                               rtol: float = RTOL, atol: float = ATOL) -> None:
    """Assert a float64 model's ``loss(X, y)`` and every gradient match torch's cross-entropy + L2 term.

    Then assert the eval-mode scores ``model.loss(X)`` match ``module.eval()(X)``, which
    also compares the running statistics the train step left behind. ``buffers`` maps
    babysit ``"<layer index>.<attribute>"`` to a torch buffer, compared after the step.
    """
    torch = _torch()
    assert set(links) == set(model.params), f"links {sorted(links)} must cover params {sorted(model.params)}"
    copy_params_to_torch(model.params, module, links)
    module.train()
    module.zero_grad(set_to_none=True)
    loss, grads = model.loss(X, y)

    xt = torch.tensor(X, dtype=torch.float64)
    loss_t = torch.nn.functional.cross_entropy(module(xt), torch.from_numpy(np.asarray(y, np.int64)))
    for name in model.weight_names:
        w = torch_tensor(module, links[name].torch_name)
        loss_t = loss_t + 0.5 * model.reg * (w * w).sum()
    loss_t.backward()

    np.testing.assert_allclose(loss, loss_t.item(), rtol=rtol, atol=atol, err_msg="loss differs from PyTorch")
    for name, link in links.items():
        _compare(f"{type(model).__name__} gradient of {name}", grads[name],
                 link.from_torch(torch_tensor(module, link.torch_name).grad), rtol, atol)
    for ours, theirs in (buffers or {}).items():
        index, attr = ours.split(".")
        _compare(f"{type(model).__name__} layer {index} {attr}", getattr(model.layers[int(index)], attr),
                 torch_tensor(module, theirs), rtol, atol)
    module.eval()
    with torch.no_grad():
        _compare(f"{type(model).__name__} eval-mode scores", model.loss(X), module(xt), rtol, atol)


def assert_loss_matches_torch(loss_fn, torch_loss, scores: np.ndarray, y: np.ndarray, *,
                              rtol: float = RTOL, atol: float = ATOL) -> tuple[float, np.ndarray]:
    """Assert babysit ``loss_fn(scores, y) -> (loss, dscores)`` equals ``torch_loss(scores, y)`` and its gradient.

    Inputs: float64 scores (N, C) and int labels y (N,); ``torch_loss(scores_tensor, labels_tensor)``
    returns the scalar torch loss. Returns babysit's (loss, dscores).
    """
    torch = _torch()
    assert scores.dtype == np.float64, "parity tests run in float64"
    loss, dscores = loss_fn(scores.copy(), y)
    st = torch.tensor(scores, requires_grad=True)
    loss_t = torch_loss(st, torch.from_numpy(np.asarray(y, np.int64)))
    loss_t.backward()
    np.testing.assert_allclose(loss, loss_t.item(), rtol=rtol, atol=atol,
                               err_msg=f"{loss_fn.__name__} differs from PyTorch")
    _compare(f"{loss_fn.__name__} gradient", dscores, st.grad, rtol, atol)
    return loss, dscores


def torch_optimizer_steps(make_optimizer: Callable, params: Mapping[str, np.ndarray], grad_steps,
                          lrs) -> list[dict[str, np.ndarray]]:
    """Run a torch optimizer from float64 copies of ``params``: one step per (grads, lr) of ``grad_steps``, ``lrs``.

    ``make_optimizer(tensors, lr)`` builds it (e.g. ``lambda ts, lr: torch.optim.SGD(ts, lr=lr)``);
    the rate is set before every step. Returns the parameters after each step.
    """
    torch = _torch()
    tensors = {k: torch.tensor(np.array(v, np.float64), requires_grad=True) for k, v in params.items()}
    lrs = list(lrs)
    opt = make_optimizer(list(tensors.values()), lrs[0])
    after = []
    for grads, lr in zip(grad_steps, lrs, strict=True):
        for group in opt.param_groups:
            group["lr"] = lr
        for k, t in tensors.items():
            t.grad = torch.tensor(np.asarray(grads[k], np.float64))
        opt.step()
        after.append({k: t.detach().numpy().copy() for k, t in tensors.items()})
    return after


def assert_optimizer_matches_torch(optimizer, make_optimizer: Callable, params: MutableMapping[str, np.ndarray],
                                   grad_steps, lrs, *, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Assert babysit's ``optimizer`` and a torch one (``make_optimizer``, see ``torch_optimizer_steps``)
    leave the same parameters after every step; ``params`` is updated in place by babysit's."""
    grad_steps, lrs = list(grad_steps), list(lrs)
    theirs = torch_optimizer_steps(make_optimizer, params, grad_steps, lrs)
    for step, (grads, lr, expected) in enumerate(zip(grad_steps, lrs, theirs), start=1):
        optimizer.step(params, grads, lr)
        for k, v in params.items():
            _compare(f"{optimizer!r} parameter {k} after step {step}", v, expected[k], rtol, atol)


def torch_twin(layers) -> tuple:
    """A torch.nn.Sequential mirroring babysit ``layers`` index for index (dropout excluded).

    Returns: (module, {(layer index, babysit param name): ParamLink into the module}).
    """
    from babysit import nn as bnn

    nn = _torch().nn

    class TorchMaxout(nn.Module):
        """Maxout in torch: Linear(in, out * pieces), then the max over each unit's ``pieces`` columns."""

        def __init__(self, in_dim: int, out_dim: int, pieces: int) -> None:
            super().__init__()
            self.linear = nn.Linear(in_dim, out_dim * pieces)
            self.out_dim, self.pieces = out_dim, pieces

        def forward(self, x):
            return self.linear(x).view(x.shape[0], self.out_dim, self.pieces).max(-1).values

    modules, links = [], {}
    for i, layer in enumerate(layers):
        linear = {"W": ParamLink(f"{i}.weight", True), "b": ParamLink(f"{i}.bias")}
        same = {"W": ParamLink(f"{i}.weight"), "b": ParamLink(f"{i}.bias")}
        norm = {"gamma": ParamLink(f"{i}.weight"), "beta": ParamLink(f"{i}.bias")}
        if isinstance(layer, bnn.Affine):
            module, link = nn.Linear(layer.in_dim, layer.out_dim), linear
        elif isinstance(layer, bnn.Maxout):
            module = TorchMaxout(layer.in_dim, layer.out_dim, layer.pieces)
            link = {"W": ParamLink(f"{i}.linear.weight", True), "b": ParamLink(f"{i}.linear.bias")}
        elif isinstance(layer, bnn.Conv2d):
            module = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.pad)
            link = same
        elif isinstance(layer, bnn.SpatialBatchNorm):
            module, link = nn.BatchNorm2d(layer.dim, eps=layer.eps, momentum=layer.momentum), norm
        elif isinstance(layer, bnn.BatchNorm):
            module, link = nn.BatchNorm1d(layer.dim, eps=layer.eps, momentum=layer.momentum), norm
        elif isinstance(layer, bnn.PReLU):
            module, link = nn.PReLU(layer.num_parameters), {"alpha": ParamLink(f"{i}.weight")}
        elif isinstance(layer, bnn.MaxPool2d):
            module, link = nn.MaxPool2d(layer.size, layer.stride), {}
        else:
            simple = {bnn.ReLU: lambda: nn.ReLU(), bnn.Tanh: lambda: nn.Tanh(), bnn.Sigmoid: lambda: nn.Sigmoid(),
                      bnn.Flatten: lambda: nn.Flatten(), bnn.LeakyReLU: lambda: nn.LeakyReLU(layer.alpha),
                      bnn.ELU: lambda: nn.ELU(layer.alpha)}
            if type(layer) not in simple:
                raise TypeError(f"no torch twin for {layer!r}")
            module, link = simple[type(layer)](), {}
        modules.append(module)
        links.update({(i, name): value for name, value in link.items()})
    return nn.Sequential(*modules).double(), links


def model_links(model, layer_links: Mapping) -> dict[str, ParamLink]:
    """Map a model's public parameter names (``W1``, ``gamma2``, ...) to the twin's links."""
    index = {id(layer): i for i, layer in enumerate(model.layers)}
    out = {}
    for name in model.params:
        layer, local = model.params.owner(name)
        out[name] = layer_links[(index[id(layer)], local)]
    return out
