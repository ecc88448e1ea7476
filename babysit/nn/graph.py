"""The slide's gate-level computational graph.

Each gate caches what its backward needs in ``forward`` and returns the local
gradients times the upstream one in ``backward``. ``ComputationalGraph.forward``
runs the gates in topological order; ``backward`` runs them in reverse and
*accumulates* gradients, so a value used twice (fan-out) gets both contributions.

    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    q = g.gate(AddGate(), x, y)
    f = g.gate(MultiplyGate(), q, z)
    g.forward({"x": -2.0, "y": 5.0, "z": -4.0})   # -12.0
    g.backward()                                   # {'x': -4.0, 'y': -4.0, 'z': 3.0}

Values may be scalars or NumPy arrays (gates act elementwise, ``DotGate`` is a
matrix product).
"""

from __future__ import annotations

import numpy as np

from babysit.errors import ConfigError, InputError
from babysit.validation import invalid


class Gate:
    """A node's operation: ``forward(*inputs) -> output``, ``backward(dout) -> [d_input, ...]``."""

    def forward(self, *inputs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, dout):  # pragma: no cover - interface
        raise NotImplementedError


def _unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: an input broadcast in forward (a bias (M,) added to (N, M))
    received one gradient per copy, and they add up."""
    if np.shape(grad) == shape:
        return grad
    grad = np.sum(grad, axis=tuple(range(np.ndim(grad) - len(shape))))
    return np.sum(grad, axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(shape)


class AddGate(Gate):
    """z = x + y: distributes the gradient unchanged (summed over broadcast axes)."""

    def forward(self, x, y):
        self.shapes = np.shape(x), np.shape(y)
        return x + y

    def backward(self, dz):
        return [_unbroadcast(dz, self.shapes[0]), _unbroadcast(dz, self.shapes[1])]


class MultiplyGate(Gate):
    """z = x * y: swaps the inputs into the gradient."""

    def forward(self, x, y):
        self.x, self.y = x, y  # must keep these around!
        return x * y

    def backward(self, dz):
        return [_unbroadcast(self.y * dz, np.shape(self.x)), _unbroadcast(self.x * dz, np.shape(self.y))]


class MaxGate(Gate):
    """z = max(x, y): routes the gradient to the larger input (to x on ties)."""

    def forward(self, x, y):
        self.x_wins = np.greater_equal(x, y)
        self.shapes = np.shape(x), np.shape(y)
        return np.maximum(x, y)

    def backward(self, dz):
        return [_unbroadcast(np.where(self.x_wins, dz, 0.0), self.shapes[0]),
                _unbroadcast(np.where(self.x_wins, 0.0, dz), self.shapes[1])]


class SigmoidGate(Gate):
    """z = 1 / (1 + exp(-x)): local gradient z * (1 - z)."""

    def forward(self, x):
        self.z = 0.5 * np.tanh(0.5 * np.asarray(x, dtype=float)) + 0.5
        return self.z

    def backward(self, dz):
        return [dz * self.z * (1.0 - self.z)]


class TanhGate(Gate):
    def forward(self, x):
        self.z = np.tanh(x)
        return self.z

    def backward(self, dz):
        return [dz * (1.0 - self.z * self.z)]


class ExpGate(Gate):
    def forward(self, x):
        self.z = np.exp(x)
        return self.z

    def backward(self, dz):
        return [dz * self.z]


class InvGate(Gate):
    """z = 1 / x."""

    def forward(self, x):
        self.x = x
        return 1.0 / x

    def backward(self, dz):
        return [-dz / (self.x * self.x)]


class ScaleGate(Gate):
    """z = c * x for a constant c."""

    def __init__(self, c: float) -> None:
        self.c = c

    def forward(self, x):
        return self.c * x

    def backward(self, dz):
        return [self.c * dz]


class DotGate(Gate):
    """z = x @ w (matrices): dx = dz @ w.T, dw = x.T @ dz."""

    def forward(self, x, w):
        self.x, self.w = x, w
        return x @ w

    def backward(self, dz):
        return [dz @ self.w.T, self.x.T @ dz]


class Node:
    """A value in the graph: an input, or the output of a gate applied to other nodes."""

    def __init__(self, graph, name, gate=None, parents=()):
        self.graph, self.name, self.gate, self.parents = graph, name, gate, tuple(parents)
        self.value = None
        self.grad = None

    def __repr__(self):
        return f"Node({self.name})"


class ComputationalGraph:
    """Builds nodes, runs forward in topological order and backward in reverse."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.inputs: dict[str, Node] = {}
        self.output: Node | None = None

    def input(self, name: str) -> Node:
        """Declare an input node, fed by ``forward(inputs)``."""
        if name in self.inputs:
            raise invalid("ComputationalGraph.input", "name", "a name not declared yet (each input is declared once)",
                          name)
        node = Node(self, name)
        self.inputs[name] = node
        self.nodes.append(node)
        return node

    def gate(self, gate: Gate, *parents: Node, name: str | None = None) -> Node:
        """Apply ``gate`` to ``parents``; the newest gate node is the graph's output."""
        for p in parents:
            if not isinstance(p, Node) or p.graph is not self:
                raise invalid("ComputationalGraph.gate", "parents", "nodes of this graph", p)
        node = Node(self, name or f"{type(gate).__name__}{len(self.nodes)}", gate, parents)
        self.nodes.append(node)
        self.output = node
        return node

    def nodes_topologically_sorted(self, output: Node | None = None) -> list[Node]:
        """Nodes that ``output`` depends on, each after all of its parents (depth-first order)."""
        order, seen = [], set()

        def visit(node):
            if id(node) in seen:
                return
            seen.add(id(node))
            for p in node.parents:
                visit(p)
            order.append(node)

        visit(output or self.output)
        return order

    def forward(self, inputs: dict):
        """Feed the inputs, run every gate in topological order, return the output value."""
        if self.output is None:
            raise ConfigError("ComputationalGraph: add at least one gate before forward()")
        missing = set(self.inputs) - set(inputs)
        if missing:
            raise InputError(f"ComputationalGraph.forward: missing inputs {sorted(missing)}")
        for name, node in self.inputs.items():
            node.value = inputs[name]
        for node in self.nodes_topologically_sorted():
            if node.gate is not None:
                node.value = node.gate.forward(*(p.value for p in node.parents))
        return self.output.value

    def backward(self, dout=1.0) -> dict:
        """Chain rule from the output back; returns {input name: gradient}."""
        order = self.nodes_topologically_sorted()
        for node in order:
            node.grad = None
        self.output.grad = dout
        for node in reversed(order):
            if node.gate is None or node.grad is None:
                continue
            for parent, g in zip(node.parents, node.gate.backward(node.grad)):
                parent.grad = g if parent.grad is None else parent.grad + g  # accumulate on fan-out
        return {name: (node.grad if node.grad is not None else 0.0 * np.asarray(node.value))
                for name, node in self.inputs.items()}
