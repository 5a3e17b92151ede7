"""Data-parallel training (keras.distribution on JAX) gives the single-device result: the same
tiny run on one CPU device and on two virtual ones (XLA_FLAGS) ends with the same weights."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from training.synthetic import write_tiny_fer2013

REPO = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import keras, numpy as np
    from pathlib import Path
    from training.train import TrainConfig, train
    data, run, parallel = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
    devices = 1
    if parallel:
        from training.distributed import enable_data_parallel
        devices = enable_data_parallel(8)
    config = TrainConfig(data=data, model="tiny_cnn", epochs=2, batch_size=8, warmup_epochs=0, clean=False)
    state = train(config, run, verbose=0)
    model = keras.models.load_model(run / "last.keras")
    np.savez(run / "weights.npz", *[np.asarray(w) for w in model.get_weights()])
    print("RESULT " + json.dumps({"devices": devices, "jax_devices": len(keras.distribution.list_devices()),
                                  "val": state["best_val_accuracy"]}))
    """
)


@pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="JAX is not installed (a test dependency: pip install -e '.[test]')",
)
def test_two_virtual_devices_match_one_device(tmp_path: Path) -> None:
    data = write_tiny_fer2013(tmp_path / "fer2013", train_per_class=4)
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "FERDESK_CACHE": str(tmp_path / "cache"),
        "JAX_PLATFORMS": "cpu",
    }
    results = {}
    for parallel in ("0", "1"):
        run = tmp_path / f"run{parallel}"
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(data), str(run), parallel],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-800:]
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        results[parallel] = json.loads(line[7:]) | {"weights": np.load(run / "weights.npz")}
    assert results["1"]["devices"] == 2 and results["1"]["jax_devices"] == 2
    single, parallel = results["0"]["weights"], results["1"]["weights"]
    for key in single.files:
        np.testing.assert_allclose(parallel[key], single[key], rtol=1e-4, atol=1e-5)
    assert results["0"]["val"] == pytest.approx(results["1"]["val"])
