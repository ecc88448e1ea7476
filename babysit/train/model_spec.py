"""Model specs: the CLI's ``--model fc:100,100`` / ``conv:32,64[/hidden]`` syntax.

``parse_model_spec('conv:32,64/100')`` -> ``ModelSpec('conv', conv_channels=(32, 64),
hidden_dims=(100,))``; ``build_from_spec(spec, input_shape=..., num_classes=...)``
builds the babysit.nn model. Shared by train, doctor and search.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from babysit.errors import ConfigError

MODEL_SPEC_SYNTAX = "'fc:H1,H2,...' (e.g. fc:100,100; 'fc' alone is a softmax classifier) or 'conv:F1,F2[/H1,...]' (e.g. conv:32,64/100)"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed ``--model`` value: kind 'fc' or 'conv', conv filter counts, hidden affine sizes."""

    kind: str
    hidden_dims: tuple[int, ...] = ()
    conv_channels: tuple[int, ...] = field(default=())

    def with_hidden(self, units: int | None) -> ModelSpec:
        """This spec with every hidden affine layer set to ``units`` (None: unchanged); the search's 'hidden'."""
        if units is None:
            return self
        if not self.hidden_dims:
            raise ConfigError(
                f"The model {self} has no hidden affine layer to size with hidden={units!r}; "
                "use a model with hidden layers, e.g. fc:100", parameter="hidden")
        return ModelSpec(self.kind, (int(units),) * len(self.hidden_dims), self.conv_channels)

    def __str__(self) -> str:
        hidden = ",".join(map(str, self.hidden_dims))
        if self.kind == "fc":
            return f"fc:{hidden}" if hidden else "fc"
        return f"conv:{','.join(map(str, self.conv_channels))}" + (f"/{hidden}" if hidden else "")


def parse_model_spec(spec: str) -> ModelSpec:
    """Parse 'fc:100,100', 'fc', 'conv:32,64' or 'conv:32,64/100'; ConfigError otherwise."""
    text = str(spec).strip().replace(" ", "")
    kind, sep, rest = text.partition(":")
    if sep and not rest:  # 'fc:' is a typo for fc:SIZES, not a request for a plain softmax classifier ('fc')
        raise ConfigError(f"{spec!r} names no layer sizes; expected {MODEL_SPEC_SYNTAX}", parameter="model")
    if kind == "fc":
        return ModelSpec("fc", _sizes(rest, spec, allow_empty=True))
    if kind == "conv":
        channels, _, hidden = rest.partition("/")
        return ModelSpec("conv", _sizes(hidden, spec, allow_empty=True), _sizes(channels, spec, allow_empty=False))
    raise ConfigError(f"expected {MODEL_SPEC_SYNTAX}; got {spec!r}", parameter="model")


def _sizes(text: str, spec, *, allow_empty: bool) -> tuple[int, ...]:
    if not text:
        if allow_empty:
            return ()
        raise ConfigError(f"conv needs at least one filter count, as in conv:32,64; got {spec!r}", parameter="model")
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"layer sizes must be positive integers, as in {MODEL_SPEC_SYNTAX}; got {spec!r}",
                          parameter="model") from None
    if any(s < 1 for s in sizes):
        raise ConfigError(f"layer sizes must be positive integers; got {spec!r}", parameter="model")
    return sizes


def build_from_spec(
    spec: str | ModelSpec, *, input_shape, num_classes: int, activation: str | None = None, init=None,
    weight_scale=None, normalization=None, dropout: float = 0.0, reg: float = 0.0, dtype=np.float32, seed=None,
):
    """Build the babysit.nn model a spec names, for inputs of ``input_shape`` (C, H, W) or (D,)."""
    from babysit.nn import ConvNet, FullyConnectedNet

    spec = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    input_shape = tuple(int(d) for d in input_shape)
    if spec.kind == "fc":
        return FullyConnectedNet(
            list(spec.hidden_dims), input_dim=input_shape if len(input_shape) > 1 else input_shape[0],
            num_classes=num_classes, activation=activation or "relu", init=init, weight_scale=weight_scale,
            normalization=normalization, dropout=dropout, reg=reg, dtype=dtype, seed=seed,
        )
    if len(input_shape) != 3:
        raise ConfigError(
            f"{spec} is a ConvNet, which needs image input (C, H, W); the data has examples of shape "
            f"{input_shape} (PCA preprocessing flattens images: use fc, or mean_image/channel_mean)", parameter="model"
        )
    if activation not in (None, "relu"):
        raise ConfigError(f"the ConvNet uses relu; got {activation!r}", parameter="activation")
    if dropout:
        raise ConfigError(f"the ConvNet has no dropout layers; got {dropout}", parameter="dropout")
    return ConvNet(
        input_dim=input_shape, conv_channels=list(spec.conv_channels), hidden_dims=list(spec.hidden_dims),
        num_classes=num_classes, normalization=normalization, reg=reg, dtype=dtype, seed=seed,
        init=init, weight_scale=weight_scale,
    )
