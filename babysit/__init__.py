"""babysit: the lecture "Training Neural Networks, Part I" as software."""

__version__ = "0.1.0"

from babysit.nn import (  # noqa: E402
    ConvNet,
    FullyConnectedNet,
    TwoLayerNet,
    init_two_layer_model,
    two_layer_net,
)

__all__ = ["FullyConnectedNet", "TwoLayerNet", "ConvNet", "init_two_layer_model", "two_layer_net", "__version__"]
