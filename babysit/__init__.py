"""babysit: the lecture "Training Neural Networks, Part I" as software."""

__version__ = "0.1.0"

from babysit.nn import (  # noqa: E402
    ConvNet,
    FullyConnectedNet,
    TwoLayerNet,
    init_two_layer_model,
    two_layer_net,
)
from babysit.train import ClassifierTrainer, Solver  # noqa: E402

__all__ = ["FullyConnectedNet", "TwoLayerNet", "ConvNet", "init_two_layer_model", "two_layer_net",
           "ClassifierTrainer", "Solver", "__version__"]
