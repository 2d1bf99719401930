"""The notebooks in notebooks/ run from a clean kernel, are stored without outputs, and plot inline."""

import pathlib
import re
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
# notebook -> figures it must show inline
FIGURES = {"01_digits_pipeline.ipynb": 1, "02_augmentation.ipynb": 1, "03_features_classifier.ipynb": 1}


def test_every_notebook_is_tested_and_stored_without_outputs():
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == sorted(FIGURES)
    for name in FIGURES:
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert code and all(not cell.outputs and cell.execution_count is None for cell in code), name


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_runs(name, tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws the figures
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # a reader's kernel: the notebook sets it up
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(figures) >= FIGURES[name], (name, [output.output_type for output in outputs])
    # the library's process set-up runs first: no TensorFlow start-up noise in the saved output
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "absl::InitializeLog" not in text and "cuInit" not in text, text[:2000]
    # what a comment says a cell prints is what it prints
    for cell in notebook.cells:
        claimed = re.search(r"# every third image, ([\d,]+) of", cell.source) if cell.cell_type == "code" else None
        if claimed:
            printed = "".join(output.get("text", "") for output in cell.outputs)
            assert f"{claimed.group(1).replace(',', '')} images" in printed, (claimed.group(0), printed)
    print(f"{name}: {seconds:.1f} s")
