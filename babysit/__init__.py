"""babysit: the lecture "Training Neural Networks, Part I" as software."""

from babysit._version import __version__
from babysit.nn import (
    ConvNet,
    FullyConnectedNet,
    TwoLayerNet,
    init_two_layer_model,
    two_layer_net,
)
from babysit.train import ClassifierTrainer, Solver

__all__ = ["FullyConnectedNet", "TwoLayerNet", "ConvNet", "init_two_layer_model", "two_layer_net",
           "ClassifierTrainer", "Solver", "__version__"]
