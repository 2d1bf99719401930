"""The end-to-end path (tests/backend_pipeline.py) under each Keras backend that is installed.

JAX comes with the `test` extra; PyTorch runs when a torch build is installed
(the CPU one: `pip install torch --index-url https://download.pytorch.org/whl/cpu`).
TensorFlow, the default backend, runs the same path in test_demo.py and
test_callbacks.py.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINES = {"jax": "jax", "torch": "torch"}


@pytest.mark.parametrize("backend", sorted(ENGINES))
def test_generator_augmenter_network_callbacks_and_resume(backend, tmp_path):
    if importlib.util.find_spec(ENGINES[backend]) is None:
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="",
               TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "backend_pipeline.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    assert report["checkpoints"] == ["epoch_1.keras", "epoch_2.keras", "epoch_3.keras"]
    assert report["history_epochs"] == 3
    assert report["resumed_learning_rate"] == pytest.approx(1e-3)
    assert report["predictions"] == [48, 3]
    assert 0.0 <= report["rank1"] <= report["rank5"] == 1.0
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
