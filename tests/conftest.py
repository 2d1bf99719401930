"""Test-wide settings (quiet TensorFlow, headless plotting, CPU only) and the fixtures several test files share.

A fixture used by one file stays in that file; the data makers are plain
functions in `datagen.py`. Data shared by several tests (session- or
module-scoped) is read-only; a test that changes its data gets its own
(function-scoped) copy.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402  (after the settings above)
from datagen import write_cifar10_dir  # noqa: E402


@pytest.fixture(autouse=True)
def _no_weights_download_probe(monkeypatch):
    """The ImageNet weights check asks a closed local port, never the download host: tests stay offline."""
    from pyimagesearch.nn import applications

    monkeypatch.setattr(applications, "WEIGHTS_HOST", ("127.0.0.1", 9))


@pytest.fixture(scope="module")
def root(tmp_path_factory, request):
    """A temporary folder shared by one test module, named after it (`test_examples` -> `examples0`)."""
    return tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2].removeprefix("test_"))


@pytest.fixture(scope="session")
def cifar(tmp_path_factory):
    """Read-only: a miniature cifar-10-batches-py, 5 x 8 training and 10 test images."""
    folder = tmp_path_factory.mktemp("cifar10") / "cifar-10-batches-py"
    write_cifar10_dir(folder, per_batch=8, test_size=10)
    return folder
