"""Every command checks its paths before importing scikit-learn, OpenCV, h5py or Keras."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("sklearn", "cv2", "h5py", "keras", "tensorflow", "jax", "matplotlib")

# one process runs every mistake in turn and reports what was imported by the end
SCRIPT = textwrap.dedent("""
    import contextlib, io, json, sys, time
    from pyimagesearch.cli import main

    results = []
    for argv in json.loads(sys.argv[1]):
        err = io.StringIO()
        start = time.process_time()
        with contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exit:
                status = exit.code
        results.append({"argv": argv, "status": status, "err": err.getvalue(),
                        "cpu": time.process_time() - start})
    heavy = sorted(name for name in sys.modules if name.split(".")[0] in %r)
    print(json.dumps({"results": results, "heavy": heavy}))
""" % (HEAVY,))


def _cases(tmp_path):
    images = tmp_path / "images"
    (images / "a").mkdir(parents=True)
    built = tmp_path / "built"
    built.mkdir()
    (built / "train.hdf5").write_bytes(b"")
    features = tmp_path / "features.hdf5"
    features.write_bytes(b"")
    blocker = tmp_path / "afile"
    blocker.write_text("keep")
    missing = str(tmp_path / "nowhere")
    cases = {
        # name: (argv, fragment of the one-line error)
        "build-dataset, missing input": (
            ["build-dataset", "-d", missing, "-o", str(tmp_path / "o1")], f"--dataset {missing!r}: image folder not found"),
        "build-dataset, input is a file": (
            ["build-dataset", "-d", str(blocker), "-o", str(tmp_path / "o1")],
            f"--dataset: image folder {str(blocker)!r} is a file, not a folder"),
        "build-dataset, output in the way": (
            ["build-dataset", "-d", str(images), "-o", str(built)], "train.hdf5' already exists; delete it or pass --overwrite"),
        "build-dataset, output folder under a file": (
            ["build-dataset", "-d", str(images), "-o", str(blocker / "out")], "is a file, so no folder can be made there"),
        "extract-features, missing input": (
            ["extract-features", "-d", missing, "-o", str(tmp_path / "f.hdf5")], "--dataset"),
        "extract-features, output in the way": (
            ["extract-features", "-d", str(images), "-o", str(features)], "--output"),
        "extract-features, missing weights file": (
            ["extract-features", "-d", str(images), "-o", str(tmp_path / "f.hdf5"), "--weights", missing], "--weights"),
        "extract-features, output folder under a file": (
            ["extract-features", "-d", str(images), "-o", str(blocker / "f.hdf5")], "no folder can be made"),
        "train-classifier, missing input": (
            ["train-classifier", "--db", missing, "--model", str(tmp_path / "m.skops")], f"--db {missing!r}: features file not found"),
        "train-classifier, output is a folder": (
            ["train-classifier", "--db", str(features), "--model", str(images)], "--model"),
        "train-classifier, output folder under a file": (
            ["train-classifier", "--db", str(features), "--model", str(blocker / "m.skops")], "no folder can be made"),
        "rank-accuracy, missing input": (
            ["rank-accuracy", "--db", missing, "--model", str(features)], "--db"),
        "rank-accuracy, input is a folder": (
            ["rank-accuracy", "--db", str(images), "--model", str(features)], "is a folder, not a file"),
        "rank-accuracy, missing classifier": (
            ["rank-accuracy", "--db", str(features), "--model", missing], "--model"),
        "inspect-model, missing weights file": (
            ["inspect-model", "minivggnet", "--weights", missing], "--weights file not found"),
        "build-dataset, --means naming a split": (
            ["build-dataset", "-d", str(images), "-o", str(tmp_path / "o2"), "--means", "train.hdf5"],
            "--means 'train.hdf5': expected the name of a .json file"),
        "build-dataset, --means leaving --output": (
            ["build-dataset", "-d", str(images), "-o", str(tmp_path / "o2"), "--means", "../x.json"],
            "--means '../x.json': a relative name must be a file name inside the output folder"),
        "repair, missing folder": (["repair", missing], f"FOLDER {missing!r}: data set folder not found"),
        "demo, output is a file": (["demo", "--output", str(blocker)], "--output"),
        "demo, output folder under a file": (["demo", "--output", str(blocker / "demo")], "no folder can be made"),
    }
    if os.geteuid() != 0:  # root writes anywhere: a read-only folder only stops other users
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases["build-dataset, output folder not writable"] = (
            ["build-dataset", "-d", str(images), "-o", str(locked / "out")], "cannot write in")
    return cases


@pytest.fixture(scope="module")
def answered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("paths")
    cases = _cases(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps([argv for (argv, _) in cases.values()])],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return cases, report


def test_every_path_mistake_is_one_line_naming_the_argument(answered):
    cases, report = answered
    for (name, (argv, fragment)), result in zip(cases.items(), report["results"]):
        assert result["status"] == 2, (name, result)
        assert result["err"].count("\n") == 1, (name, result["err"])
        assert result["err"].startswith(f"pyimagesearch {argv[0]}: error: "), (name, result["err"])
        assert fragment in result["err"], (name, result["err"])


def test_path_mistakes_are_answered_before_any_heavy_import(answered):
    cases, report = answered
    assert report["heavy"] == [], report["heavy"]
    for name, result in zip(cases, report["results"]):
        # generous: the imports these checks come before take seconds of CPU
        assert result["cpu"] < 0.5, (name, result["cpu"])


def test_path_checks_leave_nothing_behind(answered, tmp_path_factory):
    cases, _ = answered
    argv = cases["build-dataset, missing input"][0]
    output = argv[argv.index("-o") + 1]
    assert not os.path.exists(output)
    blocker = cases["demo, output is a file"][0][-1]
    assert open(blocker).read() == "keep"
    folder = os.path.dirname(blocker)
    assert not [name for name in os.listdir(folder) if name.startswith(".pyimagesearch-write-check")]
