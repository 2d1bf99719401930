"""Output that suits where it goes: bars on a terminal, few plain lines in a log."""

import ast
import io
import pathlib
import subprocess
import sys
import textwrap

import pytest

from pyimagesearch.infra import progress
from pyimagesearch.infra.progress import LogProgress, is_terminal, keras_verbose, progress_bar

ROOT = pathlib.Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_keras_verbose_is_a_bar_on_a_terminal_and_a_line_per_epoch_otherwise():
    assert keras_verbose(Terminal()) == 1
    assert keras_verbose(io.StringIO()) == 2
    assert not is_terminal(object())


def test_a_terminal_gets_a_progressbar2_bar():
    stream = Terminal()
    bar = progress_bar("Work: ", 10, stream=stream)
    assert not isinstance(bar, LogProgress)
    bar.update(10)
    bar.finish()
    assert "100%" in stream.getvalue() and "\r" in stream.getvalue()  # redrawn in place


@pytest.mark.parametrize("seconds_per_step", [0.0, 0.01, 0.2, 5.0])
def test_a_log_gets_at_most_21_lines_and_no_escape_codes(monkeypatch, seconds_per_step):
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    stream = io.StringIO()
    bar = progress_bar("Building train: ", 1000, stream=stream)
    for done in range(1, 1001):
        clock.now += seconds_per_step
        bar.update(done)
    bar.finish()
    lines = stream.getvalue().splitlines()
    assert 1 <= len(lines) <= 21, lines
    assert lines[-1].startswith("Building train: 100% (1000/1000), ")
    assert "\x1b" not in stream.getvalue() and "\r" not in stream.getvalue()
    if seconds_per_step == 0.0:
        assert len(lines) == 1  # a quick job: its last line only
    if seconds_per_step >= 0.2:  # a long job: every 10% at least
        assert len(lines) >= 10


def test_a_slow_step_is_reported_every_30_seconds_at_a_5_percent_step(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    stream = io.StringIO()
    bar = LogProgress("Work: ", 20, stream)
    clock.now = 31.0
    bar.update(1)  # 5%: an odd step, shown because 30 s passed
    assert stream.getvalue() == "Work:   5% (1/20), 31 s\n"


def test_a_build_to_a_file_writes_few_lines(tmp_path):
    """A real build with stdout and stderr to a file, its updates paced to take 2 s."""
    script = textwrap.dedent("""
        import sys, time
        from datagen import write_image_tree
        from pyimagesearch.infra import progress
        from pyimagesearch.io import build_hdf5_splits

        bar = progress.progress_bar
        class Paced:  # each image takes 5 ms more: the pace of a long build's bar
            def __init__(self, *args, **kwargs):
                self.bar = bar(*args, **kwargs)
            def update(self, n):
                time.sleep(0.005)
                self.bar.update(n)
            def finish(self):
                self.bar.finish()
        import pyimagesearch.io.build as build
        build.progress_bar = Paced
        write_image_tree(sys.argv[1] + "/images", classes=("a", "b"), per_class=200, size=(8, 8))
        build_hdf5_splits(sys.argv[1] + "/images", sys.argv[1] + "/hdf5", size=8, workers=1)
    """)
    log = tmp_path / "build.log"
    with open(log, "w") as out:
        subprocess.run([sys.executable, "-c", script, str(tmp_path)], stdout=out, stderr=subprocess.STDOUT,
                       cwd=ROOT / "tests", timeout=300, check=True)
    text = log.read_text()
    progress_lines = [line for line in text.splitlines() if line.startswith("Building ")]
    assert "\x1b" not in text and "\r" not in text
    assert "Building train: 100% (320/320)" in text
    assert len(progress_lines) <= 3 * 21, text


def test_keras_training_to_a_file_is_one_line_per_epoch(tmp_path):
    script = textwrap.dedent("""
        import numpy as np, keras
        from pyimagesearch.infra.progress import keras_verbose
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        x, y = np.zeros((64, 4), "float32"), np.zeros(64, "int64")
        model.fit(x, y, epochs=3, batch_size=8, verbose=keras_verbose())
        model.predict(x, verbose=keras_verbose())
    """)
    log = tmp_path / "train.log"
    with open(log, "w") as out:
        subprocess.run([sys.executable, "-c", script], stdout=out, stderr=subprocess.DEVNULL, timeout=300,
                       check=True)
    text = log.read_text()
    assert "\x1b" not in text and "\r" not in text and "\b" not in text
    assert len([line for line in text.splitlines() if line.startswith("Epoch ")]) == 3


def _calls_without_a_chosen_verbose(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("fit", "predict", "evaluate") \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in ("model", "network"):
            verbose = [k.value for k in node.keywords if k.arg == "verbose"]
            chosen = verbose and (
                (isinstance(verbose[0], ast.Constant) and verbose[0].value == 0)
                or (isinstance(verbose[0], ast.Call) and getattr(verbose[0].func, "id", "") == "keras_verbose")
                or (isinstance(verbose[0], ast.IfExp)))
            if not chosen:
                yield f"{path.relative_to(ROOT)}:{node.lineno}"


def test_example_scripts_and_the_demo_choose_verbose_by_where_output_goes():
    scripts = [*sorted((ROOT / "examples").rglob("*.py")), ROOT / "pyimagesearch" / "commands" / "demo.py"]
    assert not [call for path in scripts for call in _calls_without_a_chosen_verbose(path)]


def test_a_line_for_a_shared_stream_is_one_write():
    # print() writes the text and the newline in two calls: on write-through stderr another
    # thread's line could land between them (seen: a survivor's line glued to "epoch 3 ended")
    from pyimagesearch.infra.progress import write_line

    class Recorder:
        def __init__(self):
            (self.writes, self.flushes) = ([], 0)

        def write(self, text):
            self.writes.append(text)

        def flush(self):
            self.flushes += 1

    stream = Recorder()
    write_line("[ERROR] process 1: process 0 of 2 failed", stream)
    assert stream.writes == ["[ERROR] process 1: process 0 of 2 failed\n"] and stream.flushes == 1
