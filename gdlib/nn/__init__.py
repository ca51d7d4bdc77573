r"""Networks and their parts, each with a hand-written backward pass (layer 1: needs only numpy).

- :mod:`gdlib.nn.activations`: the activations and their derivatives;
- :mod:`gdlib.nn.layers`: dense and dropout layers, the L1 and L2 penalties, He and Glorot
  initialisation;
- :mod:`gdlib.nn.losses`: softmax, mean squared error, softmax and binary cross-entropy;
- :mod:`gdlib.nn.model`: :class:`MLP`, the multilayer perceptron the chapters train;
- :mod:`gdlib.nn.conv`, :mod:`gdlib.nn.cnn`: convolution and pooling layers, and :class:`CNN`;
- :mod:`gdlib.nn.rnn`: recurrent layers, :class:`RNNRegressor` and :class:`RNNClassifier`;
- :mod:`gdlib.nn.residual`: residual blocks and :class:`ResidualMLP`;
- :mod:`gdlib.nn.gradcheck`: gradients by finite differences, to check the backward passes.

Every model has ``params``, ``loss_and_grads`` and ``predict``, which is all
:func:`gdlib.train.fit` needs.
"""

from gdlib.nn.activations import (
    Activation, sigmoid, sigmoid_grad, tanh, tanh_grad, relu, relu_grad, leaky_relu,
    leaky_relu_grad, step, step_grad, identity, identity_grad, ACTIVATIONS, get_activation
)
from gdlib.nn.layers import (
    dense_forward, dense_backward, dropout_forward, dropout_backward, l2_penalty, l1_penalty,
    he_init, glorot_init
)
from gdlib.nn.losses import softmax, mse, softmax_cross_entropy, binary_cross_entropy
from gdlib.nn.model import LOSSES, INITS, SMALL_INIT_STD, MLP
from gdlib.nn.conv import (
    conv2d_forward, conv2d_backward, maxpool2d_forward, maxpool2d_backward, avgpool2d_forward,
    avgpool2d_backward, flatten_forward, flatten_backward
)
from gdlib.nn.cnn import CNN
from gdlib.nn.rnn import rnn_forward, rnn_backward, clip_by_global_norm, RNNRegressor, RNNClassifier
from gdlib.nn.residual import (
    residual_block_forward, residual_block_backward, num_blocks_for_depth, ResidualMLP
)
from gdlib.nn.gradcheck import (
    numerical_gradient, relative_error, GradientReport, check_gradient, check_model_gradients
)

__all__ = [
    "Activation", "sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad",
    "leaky_relu", "leaky_relu_grad", "step", "step_grad", "identity", "identity_grad",
    "ACTIVATIONS", "get_activation", "dense_forward", "dense_backward", "dropout_forward",
    "dropout_backward", "l2_penalty", "l1_penalty", "he_init", "glorot_init", "softmax", "mse",
    "softmax_cross_entropy", "binary_cross_entropy", "LOSSES", "INITS", "SMALL_INIT_STD", "MLP",
    "conv2d_forward", "conv2d_backward", "maxpool2d_forward", "maxpool2d_backward",
    "avgpool2d_forward", "avgpool2d_backward", "flatten_forward", "flatten_backward", "CNN",
    "rnn_forward", "rnn_backward", "clip_by_global_norm", "RNNRegressor", "RNNClassifier",
    "residual_block_forward", "residual_block_backward", "num_blocks_for_depth", "ResidualMLP",
    "numerical_gradient", "relative_error", "GradientReport", "check_gradient",
    "check_model_gradients"
]
