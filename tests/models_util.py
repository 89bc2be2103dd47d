"""Tiny int8 test models built by the tests themselves (tf_keras + TFLiteConverter).

Each builder returns a Keras model; :func:`convert_int8` quantizes it post-training to a fully
int8 .tflite (int8 input/output, per-channel weights unless ``per_tensor``). :func:`append_quantize`
edits a .tflite with the schema's object API to add an int8 -> int8 QUANTIZE op at the output.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def _keras():
    import tf_keras

    return tf_keras


def conv_mix():
    """CONV stride 2 + SAME + even kernel, depthwise x2, 3x3 conv, VALID conv with uneven
    strides, flatten, FC with RELU, FC, softmax. Input 7x5x3."""
    k = _keras()
    L = k.layers
    x = inp = L.Input((7, 5, 3))
    x = L.Conv2D(6, (2, 2), strides=2, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D((3, 3), depth_multiplier=2, padding="same", activation="relu6")(x)
    x = L.Conv2D(5, (3, 3), padding="same")(x)
    x = L.Conv2D(4, (2, 3), strides=(1, 2), padding="valid", activation="relu6")(x)
    x = L.Flatten()(x)
    x = L.Dense(8, activation="relu")(x)
    x = L.Dense(5)(x)
    x = L.Softmax()(x)
    return k.Model(inp, x)


def depthwise_mix():
    """Depthwise: stride 2 VALID, multiplier 3 with SAME and an even 4x2 kernel, stride 2 SAME
    with dilation 1, then flatten (RESHAPE) and FC. Input 9x7x4."""
    k = _keras()
    L = k.layers
    x = inp = L.Input((9, 7, 4))
    x = L.DepthwiseConv2D((3, 3), strides=2, padding="valid", activation="relu")(x)
    x = L.DepthwiseConv2D((4, 2), depth_multiplier=3, padding="same")(x)
    x = L.DepthwiseConv2D((2, 2), strides=2, padding="same", activation="relu6")(x)
    x = L.Flatten()(x)
    x = L.Dense(6)(x)
    return k.Model(inp, x)


def pool_mix():
    """Max/avg pooling with SAME and VALID padding, uneven windows and strides. Input 9x7x3."""
    k = _keras()
    L = k.layers
    x = inp = L.Input((9, 7, 3))
    x = L.Conv2D(4, (1, 1), activation="relu")(x)
    x = L.MaxPooling2D((2, 2), strides=2, padding="same")(x)  # 5x4
    x = L.AveragePooling2D((3, 2), strides=(2, 1), padding="same")(x)  # 3x4
    x = L.Conv2D(6, (1, 1))(x)
    x = L.MaxPooling2D((2, 2), strides=1, padding="valid")(x)  # 2x3
    x = L.AveragePooling2D((2, 2), strides=1, padding="valid")(x)  # 1x2
    x = L.Flatten()(x)
    x = L.Dense(4)(x)
    x = L.Softmax()(x)
    return k.Model(inp, x)


def add_mix():
    """Residual ADDs (plain and with a fused RELU) between convolutions. Input 6x6x3."""
    k = _keras()
    L = k.layers
    inp = L.Input((6, 6, 3))
    a = L.Conv2D(4, (3, 3), padding="same", activation="relu")(inp)
    b = L.Conv2D(4, (1, 1))(inp)
    x = L.Add()([a, b])
    c = L.DepthwiseConv2D((3, 3), padding="same")(x)
    x = L.ReLU()(L.Add()([x, c]))
    x = L.AveragePooling2D((6, 6))(x)
    x = L.Flatten()(x)
    x = L.Dense(3)(x)
    return k.Model(inp, x)


def dilated(path: Path, *, per_tensor: bool = False, seed: int = 0) -> Path:
    """Dilation 2 (conv SAME + RELU, depthwise x2 SAME, conv VALID + RELU6), converted from a
    tf.function: Keras layers lower dilation to SPACE_TO_BATCH_ND, raw TF ops keep it. Input
    7x5x3."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def const(*shape: int) -> tf.Tensor:
        return tf.constant(rng.normal(0, 0.5, shape).astype(np.float32))

    w1, b1 = const(3, 3, 3, 4), const(4)
    w2, b2 = const(3, 3, 4, 2), const(8)
    w3, b3 = const(2, 2, 8, 3), const(3)

    @tf.function(input_signature=[tf.TensorSpec([1, 7, 5, 3], tf.float32)])
    def forward(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w1, strides=1, padding="SAME", dilations=2) + b1)
        y = tf.raw_ops.DepthwiseConv2dNative(input=y, filter=w2, strides=[1, 1, 1, 1],
                                             padding="SAME", dilations=[1, 2, 2, 1]) + b2
        y = tf.nn.conv2d(y, w3, strides=1, padding="VALID", dilations=2) + b3
        return tf.clip_by_value(y, 0.0, 6.0)

    return _convert(
        tf.lite.TFLiteConverter.from_concrete_functions([forward.get_concrete_function()]),
        (1, 7, 5, 3), path, per_tensor=per_tensor, seed=seed)


def batched(path: Path, *, batch: int = 3) -> Path:
    """A batch of ``batch`` inputs in one invocation: conv SAME + RELU, depthwise, 1x1 conv,
    average pooling, flatten, FC + RELU, FC, softmax over each row. Input batch x 6x5x4."""
    import tensorflow as tf

    k = _keras()
    L = k.layers
    x = inp = L.Input((6, 5, 4), batch_size=batch)
    x = L.Conv2D(8, (3, 3), padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D((3, 3), padding="same", activation="relu")(x)
    x = L.Conv2D(8, (1, 1), activation="relu")(x)
    x = L.AveragePooling2D((2, 2))(x)
    x = L.Flatten()(x)
    x = L.Dense(10, activation="relu")(x)
    x = L.Dense(5)(x)
    x = L.Softmax()(x)
    model = k.Model(inp, x)
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    return _convert(tf.lite.TFLiteConverter.from_keras_model(model), (batch, 6, 5, 4), path,
                    per_tensor=False, seed=3)


BUILDERS: dict[str, Callable] = {
    "conv_mix": conv_mix,
    "depthwise_mix": depthwise_mix,
    "pool_mix": pool_mix,
    "add_mix": add_mix,
}


def build(name: str, path: Path, *, per_tensor: bool = False) -> Path:
    """Build test model ``name`` (a BUILDERS key or "dilated") as an int8 .tflite at ``path``."""
    if name == "dilated":
        return dilated(path, per_tensor=per_tensor)
    if name == "batched":
        return batched(path)
    return convert_int8(BUILDERS[name](), path, per_tensor=per_tensor)


def convert_int8(model, path: Path, *, per_tensor: bool = False, seed: int = 0) -> Path:
    """Post-training full-int8 quantization of a Keras model (random weights, biases not zero)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32)
                               for w in weights])
    shape = (1, *model.input_shape[1:])
    return _convert(tf.lite.TFLiteConverter.from_keras_model(model), shape, path,
                    per_tensor=per_tensor, seed=seed)


def _convert(conv, shape: tuple[int, ...], path: Path, *, per_tensor: bool, seed: int) -> Path:
    """Full int8 conversion with a random N(0, 1) representative data set of ``shape``."""
    import tensorflow as tf

    rng = np.random.default_rng(seed + 1)

    def representative():
        for _ in range(64):
            yield [rng.normal(0, 1.0, shape).astype(np.float32)]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if per_tensor:
        conv._experimental_disable_per_channel = True
    path.write_bytes(conv.convert())
    return path


def append_quantize(src: Path, dst: Path, scale: float = 0.0173, zero_point: int = 11) -> Path:
    """Copy a .tflite, adding an int8 -> int8 QUANTIZE op after the graph output."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    buf = src.read_bytes()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(buf, 0))
    sg = m.subgraphs[0]
    old_out = sg.outputs[0]
    t_old = sg.tensors[old_out]
    t_new = s.TensorT()
    t_new.shape = np.array(t_old.shape, dtype=np.int32)
    if t_old.shapeSignature is not None:
        t_new.shapeSignature = np.array(t_old.shapeSignature, dtype=np.int32)
    t_new.type = s.TensorType.INT8
    t_new.name = b"requantized_output"
    empty = s.BufferT()
    m.buffers.append(empty)
    t_new.buffer = len(m.buffers) - 1
    q = s.QuantizationParametersT()
    q.scale = np.array([scale], dtype=np.float32)
    q.zeroPoint = np.array([zero_point], dtype=np.int64)
    t_new.quantization = q
    sg.tensors.append(t_new)
    new_index = len(sg.tensors) - 1
    code = s.OperatorCodeT()
    code.builtinCode = s.BuiltinOperator.QUANTIZE
    code.deprecatedBuiltinCode = s.BuiltinOperator.QUANTIZE
    code.version = 2
    m.operatorCodes.append(code)
    op = s.OperatorT()
    op.opcodeIndex = len(m.operatorCodes) - 1
    op.inputs = np.array([old_out], dtype=np.int32)
    op.outputs = np.array([new_index], dtype=np.int32)
    op.builtinOptionsType = s.BuiltinOptions.QuantizeOptions
    op.builtinOptions = s.QuantizeOptionsT()
    sg.operators.append(op)
    sg.outputs = np.array([new_index], dtype=np.int32)
    if m.signatureDefs:
        m.signatureDefs = None
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    dst.write_bytes(bytes(b.Output()))
    return dst


def add_labels_metadata(src: Path, dst: Path, labels: list[str]) -> Path:
    """Copy a .tflite, adding the "tinyml_labels" metadata entry (a JSON list of strings)."""
    import json

    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(src.read_bytes(), 0))
    buf = s.BufferT()
    buf.data = np.frombuffer(json.dumps(labels).encode(), dtype=np.uint8).copy()
    m.buffers.append(buf)
    md = s.MetadataT()
    md.name = b"tinyml_labels"
    md.buffer = len(m.buffers) - 1
    m.metadata = (m.metadata or []) + [md]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    dst.write_bytes(bytes(b.Output()))
    return dst


KWS_FOLDERS = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "_silence_",
               "_unknown_"]  # in the MLPerf KWS model's output order


def mlperf_features(clips: np.ndarray) -> np.ndarray:
    """MLPerf KWS features of 1 s 16 kHz int16 clips [N, 16000] -> float32 [N, 49, 10] MFCCs.

    Recipe from shared/README.md: clip / max(clip), STFT 480/320/512 periodic Hann, magnitude,
    40 mel bins 20-4000 Hz, log(mel + 1e-6), DCT-II MFCCs, first 10.
    """
    import tensorflow as tf

    x = tf.constant(clips.astype(np.float32))
    x = x / tf.reduce_max(x, axis=1, keepdims=True)
    spec = tf.abs(tf.signal.stft(x, 480, 320, 512, window_fn=tf.signal.hann_window))
    mel = tf.tensordot(spec, tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 4000.0),
                       1)
    mfcc = tf.signal.mfccs_from_log_mel_spectrograms(tf.math.log(mel + 1e-6))[..., :10]
    return np.nan_to_num(mfcc.numpy()).astype(np.float32)


def kws_real_inputs(speech_commands: Path, scale: float, zero_point: int,
                    per_label: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantized MLPerf MFCCs int8 [12 * per_label, 490] of real clips, and label indices."""
    import soundfile as sf

    clips, labels = [], []
    for i, folder in enumerate(KWS_FOLDERS):
        files = sorted((speech_commands / folder).glob("*.wav"))[:per_label]
        assert len(files) == per_label, folder
        for f in files:
            audio, rate = sf.read(f, dtype="int16")
            assert rate == 16000
            clips.append(np.pad(audio, (0, max(0, 16000 - len(audio))))[:16000])
            labels.append(i)
    feats = mlperf_features(np.stack(clips))
    q = np.clip(np.round(feats / scale) + zero_point, -128, 127).astype(np.int8)
    return q.reshape(len(clips), -1), np.array(labels)


def per_channel_fully_connected(src: Path, dst: Path) -> Path:
    """Copy a .tflite, giving every FULLY_CONNECTED weight tensor per-unit scales (0.6x .. 1.4x
    the original): the converter only emits per-tensor FC weights, TFLite Micro runs both."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(src.read_bytes(), 0))
    sg = m.subgraphs[0]
    for op in sg.operators:
        code = m.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) != s.BuiltinOperator.FULLY_CONNECTED:
            continue
        for t_index in op.inputs[1:3]:
            if t_index < 0:
                continue
            q = sg.tensors[t_index].quantization
            units = sg.tensors[op.inputs[1]].shape[0]
            q.scale = (float(q.scale[0]) * np.linspace(0.6, 1.4, units)).astype(np.float32)
            q.zeroPoint = np.zeros(units, dtype=np.int64)
            q.quantizedDimension = 0
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    dst.write_bytes(bytes(b.Output()))
    return dst
