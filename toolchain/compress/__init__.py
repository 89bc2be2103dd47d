"""Model compression: depthwise factorization, pruning (magnitude and structured channel
pruning), quantization-aware training and post-training quantization, knowledge distillation.

Each step is a library function on tf_keras models; :mod:`.report` measures what a step costs
and buys (accuracy, parameters, MACs, flash and arena bytes from the model compiler).
"""

from .distill import distill
from .factorize import factorize_conv, factorize_model
from .prune import magnitude_prune, structured_prune
from .qat import qat

__all__ = ["distill", "factorize_conv", "factorize_model", "magnitude_prune", "qat",
           "structured_prune"]
