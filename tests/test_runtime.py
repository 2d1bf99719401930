import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyimagesearch import runtime

ROOT = Path(__file__).resolve().parent.parent
TF_LOG_MARKERS = ("absl::InitializeLog", "oneDNN", "cuda", "cpu_feature_guard", "I0000", "W0000", "E0000")


def _environment_without_log_level(**extra):
    environment = {key: value for (key, value) in os.environ.items()
                   if key not in ("TF_CPP_MIN_LOG_LEVEL", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                                  "OPENCV_FOR_THREADS_NUM")}
    environment.update(CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow", MPLBACKEND="Agg",
                       PYTHONPATH=str(ROOT), **extra)
    return environment


def _run(arguments, **extra):
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env=_environment_without_log_level(**extra))


def test_command_that_loads_tensorflow_prints_none_of_its_lines():
    result = _run(["-m", "pyimagesearch", "inspect-model", "shallownet"])
    assert result.returncode == 0, result.stderr
    assert "conv2d" in result.stdout
    shown = [line for line in (result.stdout + result.stderr).splitlines()
             if any(marker in line for marker in TF_LOG_MARKERS)]
    assert shown == []


def test_example_script_starts_quiet():
    script = ROOT / "examples" / "ch05_fine_tuning" / "inspect_model.py"
    result = _run([str(script), "--include-top", "0", "--weights", "none"])
    assert result.returncode == 0, result.stderr
    assert "block5_pool" in result.stdout
    assert [line for line in result.stderr.splitlines() if any(m in line for m in TF_LOG_MARKERS)] == []


def test_user_log_level_is_kept():
    result = _run(["-c", "from pyimagesearch.cli import main; main(['inspect-model', 'shallownet'])"],
                  TF_CPP_MIN_LOG_LEVEL="0")
    assert result.returncode == 0, result.stderr
    assert "absl::InitializeLog" in result.stderr  # TensorFlow's own lines, as the user asked


def test_importing_the_library_leaves_logging_alone():
    code = ("import os, sys, pyimagesearch, pyimagesearch.cli, pyimagesearch.runtime, pyimagesearch.utils; "
            "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), os.environ.get('TF_NUM_INTRAOP_THREADS'), "
            "len(sys.meta_path))")
    result = _run(["-c", code])
    assert result.returncode == 0, result.stderr
    baseline = _run(["-c", "import sys; print(len(sys.meta_path))"]).stdout.split()
    assert result.stdout.split() == ["None", "None", *baseline]


def test_configure_process_fills_only_unset_variables():
    environ = {"TF_NUM_INTRAOP_THREADS": "7", "CUDA_VISIBLE_DEVICES": ""}
    applied = runtime.configure_process(environ)
    assert environ["TF_NUM_INTRAOP_THREADS"] == "7" and "TF_NUM_INTRAOP_THREADS" not in applied
    assert environ["TF_CPP_MIN_LOG_LEVEL"] == "3"  # GPUs hidden: the cuInit probe error is noise
    assert environ["TF_NUM_INTEROP_THREADS"] == "1"
    assert environ["OPENCV_FOR_THREADS_NUM"] == str(runtime.available_cores())
    assert applied == {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_NUM_INTEROP_THREADS": "1",
                       "OPENCV_FOR_THREADS_NUM": str(runtime.available_cores())}


def test_gpu_machine_keeps_error_lines(monkeypatch):
    monkeypatch.setattr(runtime.os.path, "exists", lambda path: path == "/proc/driver/nvidia/version")
    assert runtime.gpu_may_be_used({})
    assert not runtime.gpu_may_be_used({"CUDA_VISIBLE_DEVICES": "-1"})
    environ = {}
    runtime.configure_process(environ)
    assert environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_filter_native_log_by_level():
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795966094.571508    9902 port.cc:153] oneDNN custom operations are on.\n"
        "I0000 00:00:1795966094.903151    5023 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n"
        "W0000 00:00:1795966094.9    9902 some.cc:1] a warning\n"
        "E0000 00:00:1795966098.832375    5023 cuda_platform.cc:52] failed call to cuInit: (303)\n"
        "a line of the user's own\n"
    )
    assert runtime.filter_native_log(text, 2) == (
        "E0000 00:00:1795966098.832375    5023 cuda_platform.cc:52] failed call to cuInit: (303)\n"
        "a line of the user's own\n")
    assert runtime.filter_native_log(text, 3) == "a line of the user's own\n"
    assert runtime.filter_native_log(text, 0) == text


def test_available_cores_honours_cgroup_quota(monkeypatch):
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(runtime, "_cgroup_cpu_quota", lambda: 1.5)
    assert runtime.available_cores() == 2
    monkeypatch.setattr(runtime, "_cgroup_cpu_quota", lambda: None)
    assert runtime.available_cores() == 64


@pytest.mark.parametrize("content, expected", [("200000 100000\n", 2.0), ("max 100000\n", None)])
def test_cgroup_v2_quota_is_read(tmp_path, monkeypatch, content, expected):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(content)
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(
        cpu_max if path == "/sys/fs/cgroup/cpu.max" else path, *a, **k))
    monkeypatch.setattr(runtime.sys, "platform", "linux")
    assert runtime._cgroup_cpu_quota() == expected


def test_a_crash_during_tensorflows_import_loses_no_line_of_stderr(tmp_path):
    # a stand-in for TensorFlow that logs, writes a real error from native code, and aborts
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\n"
        "os.write(2, b'I0000 00:00:1795966094.571508    9902 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "os.write(2, b'a real error from the native import\\n')\n"
        "os.abort()\n")
    code = ("from pyimagesearch.runtime import configure_process, tensorflow_start_up_filtered\n"
            "configure_process()\nwith tensorflow_start_up_filtered():\n    import tensorflow")
    environment = _environment_without_log_level()
    environment["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{ROOT}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            cwd=ROOT, env=environment)
    assert result.returncode == -6
    assert result.stderr.splitlines() == ["a real error from the native import"]  # the INFO line is filtered


def test_native_log_filter_runs_as_a_stream():
    lines = b"I0000 00:00:1.5    1 a.cc:1] info\n  continued\nE0000 00:00:1.5    1 a.cc:2] bad\nmine"
    result = subprocess.run([sys.executable, "-I", "-S", runtime.__file__, "2"], input=lines,
                            capture_output=True, timeout=60)
    assert result.stdout == b"E0000 00:00:1.5    1 a.cc:2] bad\nmine"


def test_the_entry_points_install_no_import_hook():
    code = ("import sys; before = list(sys.meta_path); from pyimagesearch.cli import main; "
            "main([]); print(sys.meta_path == before)")
    result = _run(["-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "True"
