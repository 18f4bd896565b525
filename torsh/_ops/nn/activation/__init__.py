"""Activations: ``softmax`` (softmax, log_softmax), ``pointwise`` (torch.nn.functional's pointwise
activations), ``kernel_backward`` (an activation's backward on its compiled kernel), ``tensor_methods``
(Tensor.hardshrink, Tensor.prelu) and ``gelu_formula``."""
