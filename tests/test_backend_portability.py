"""A model trained under another Keras backend exports to .tflite under TensorFlow, unchanged.

The shipped model was trained with KERAS_BACKEND=torch on the CPU (faster there) and exported under
TensorFlow; the lent GPU machines have JAX and PyTorch but no TensorFlow. This proves the route:
save `.keras` under torch (or JAX), load it under TensorFlow, convert, and get the same outputs.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

OTHER_BACKENDS = [name for name in ("torch", "jax") if importlib.util.find_spec(name) is not None]


@pytest.mark.skipif(
    not OTHER_BACKENDS,
    reason="neither PyTorch nor JAX is installed here; JAX is a test dependency (pip install -e '.[test]')",
)
def test_model_saved_under_another_backend_exports_under_tensorflow(tmp_path):
    backend = OTHER_BACKENDS[0]
    faces = np.random.default_rng(0).random((6, 48, 48, 1), dtype=np.float32)
    np.save(tmp_path / "faces.npy", faces)
    script = textwrap.dedent(
        f"""
        import numpy as np, keras
        from training.models import create_model
        assert keras.backend.backend() == {backend!r}
        model = create_model("tiny_cnn")
        x = np.random.default_rng(1).random((32, 48, 48, 1), dtype=np.float32)
        y = np.eye(7, dtype=np.float32)[np.arange(32) % 7]
        model.compile(optimizer="adamw", loss="categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        model.save(r"{tmp_path / "model.keras"}")
        faces = np.load(r"{tmp_path / "faces.npy"}")
        np.save(r"{tmp_path / "expected.npy"}", model.predict(faces, verbose=0))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": backend}
    command = [sys.executable, "-c", script]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]

    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("this test process must run the TensorFlow backend")
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    model = keras.models.load_model(tmp_path / "model.keras")
    tflite = tmp_path / "model.tflite"
    tflite.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    interpreter = Interpreter(model_path=str(tflite))
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(faces.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], faces)
    interpreter.invoke()
    converted = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    expected = np.load(tmp_path / "expected.npy")
    assert np.allclose(converted, expected, atol=1e-4), np.abs(converted - expected).max()
