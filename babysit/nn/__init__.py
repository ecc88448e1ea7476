"""babysit.nn: the from-scratch NumPy engine (layers, losses, init, models, graph, gradient checks)."""

from babysit.nn.activations import ELU, LeakyReLU, PReLU, ReLU, Sigmoid, Tanh, make_activation
from babysit.nn.affine import Affine
from babysit.nn.base import Layer
from babysit.nn.batchnorm import BatchNorm, SpatialBatchNorm
from babysit.nn.conv import Conv2d
from babysit.nn.dropout import Dropout
from babysit.nn.gradcheck import (
    check_layer_gradients,
    check_model_gradients,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
)
from babysit.nn.graph import (
    AddGate,
    ComputationalGraph,
    DotGate,
    ExpGate,
    Gate,
    InvGate,
    MaxGate,
    MultiplyGate,
    ScaleGate,
    SigmoidGate,
    TanhGate,
)
from babysit.nn.init import INIT_SCHEMES, init_weight
from babysit.nn.lecture import init_two_layer_model, two_layer_net
from babysit.nn.losses import softmax_loss, svm_loss
from babysit.nn.maxout import Maxout
from babysit.nn.models import ConvNet, FullyConnectedNet, Model, TwoLayerNet, build_model
from babysit.nn.pool import MaxPool2d
from babysit.nn.reshape import Flatten
from babysit.nn.sequential import Sequential

__all__ = [
    "Affine", "ReLU", "LeakyReLU", "PReLU", "ELU", "Sigmoid", "Tanh", "Maxout", "BatchNorm", "Dropout",
    "Conv2d", "MaxPool2d", "SpatialBatchNorm", "Flatten", "Sequential", "Layer", "make_activation",
    "softmax_loss", "svm_loss", "INIT_SCHEMES", "init_weight",
    "Model", "FullyConnectedNet", "TwoLayerNet", "ConvNet", "build_model",
    "init_two_layer_model", "two_layer_net",
    "ComputationalGraph", "Gate", "AddGate", "MultiplyGate", "MaxGate", "SigmoidGate", "TanhGate", "ExpGate",
    "InvGate", "ScaleGate", "DotGate",
    "rel_error", "eval_numerical_gradient", "eval_numerical_gradient_array", "check_layer_gradients",
    "check_model_gradients",
]
