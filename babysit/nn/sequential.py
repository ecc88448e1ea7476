"""Sequential containers and the live name -> array views models expose as ``params``/``grads``."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

import numpy as np

from babysit.errors import InputError
from babysit.nn.base import Layer


class Sequential(Layer):
    """Run layers in order forward and in reverse order backward.

    ``params``/``grads`` are live views keyed ``"<index>.<name>"`` (e.g. ``"0.W"``).
    ``backward_stop``: the index of the lowest layer ``backward`` runs (0: all of them); the
    layers below it are frozen and need no gradient work (``Model.freeze`` sets it).
    A layer with ``fuses_next`` (a Conv2d before a ReLU and a 2x2 max pool, set by the models) runs
    its forward together with the next two (``forward_fused``; None from it: the three run in turn),
    and their backward together when all three are above ``backward_stop`` (babysit.nn.convpool).
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        self.layers = list(layers)
        self.backward_stop = 0
        index = {f"{i}.{name}": (layer, name) for i, layer in enumerate(self.layers) for name in layer.params}
        self.params = ParamView(index, "params")
        self.grads = ParamView(index, "grads")

    def __iter__(self):
        return iter(self.layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def train(self, mode: bool = True) -> "Sequential":
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def forward(self, x):
        layers, i = self.layers, 0
        while i < len(layers):
            layer = layers[i]
            if layer.fuses_next and i + 2 < len(layers):  # it runs with the next two layers in one pass
                out = layer.forward_fused(x, *layers[i + 1:i + 3])
                if out is not None:
                    x, i = out, i + 3
                    continue
            x, i = layer.forward(x), i + 1
        self.last_output = x
        return x

    def backward(self, dout):
        layers, i = self.layers, len(self.layers) - 1
        while i >= self.backward_stop:
            first = layers[i - 2] if i - 2 >= self.backward_stop else None
            if first is not None and first.fuses_next and first.ran_fused():
                dout, i = first.backward_fused(dout, *layers[i - 1:i + 1]), i - 3
            else:
                dout, i = layers[i].backward(dout), i - 1
            if dout is None:  # a layer that needs no input gradient ends the pass
                break
        return dout

    def __repr__(self):
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


class ParamView(MutableMapping):
    """A dict-like view name -> the ``params`` (or ``grads``) array of the layer that owns it.

    Reading returns the layer's own array (in-place updates reach the layer).
    Assigning replaces the layer's array after checking the shape, and keeps the
    layer's dtype, so ``model.params['W1'] = new_W`` works as in the cs231n Solver.
    """

    def __init__(self, index: dict[str, tuple[Layer, str]], attr: str) -> None:
        self._index = index
        self._attr = attr

    def owner(self, key: str) -> tuple[Layer, str]:
        """The (layer, local name) that holds ``key``."""
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"no parameter {key!r}; known: {', '.join(self._index)}") from None

    def __getitem__(self, key: str) -> np.ndarray:
        layer, name = self.owner(key)
        return getattr(layer, self._attr)[name]

    def __setitem__(self, key: str, value) -> None:
        layer, name = self.owner(key)
        store = getattr(layer, self._attr)
        current = store[name]
        value = np.asarray(value)
        if value.shape != current.shape:
            raise InputError(f"{self._attr}[{key!r}] of {layer}: expected shape {current.shape}, got {value.shape}")
        store[name] = value.astype(current.dtype, copy=False)

    def __delitem__(self, key: str) -> None:
        raise TypeError("parameters cannot be deleted from a model")

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: array{self[k].shape}" for k in self) + "}"
