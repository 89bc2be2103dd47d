"""tinyml: keyword-spotting audio to int8 firmware for Cortex-M microcontrollers."""

import os

# tfmot only works with tf_keras models; this must be set before TensorFlow is imported anywhere.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
