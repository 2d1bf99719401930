"""What a signal or a kill at each rename of `build-dataset --overwrite` leaves (README, Reliability).

Runs the real command under `strace -f -e inject=rename:signal=SIG:when=N` (strace
must be installed) for each rename N of the publish and SIGKILL, SIGINT and SIGTERM,
then reports, for the real names train/val/test.hdf5 and mean.json: which build each
holds (old, new, missing) right after the run, what a reader
(`HDF5DatasetGenerator`) says then (it reads, or refuses an unfinished
publish), and the set after `pyimagesearch repair` on the folder. Not a test:
a table for the README.

    python benchmarks/publish_kill_matrix.py
"""

import os
import shutil
import subprocess
import sys
import tempfile

NAMES = ("train.hdf5", "val.hdf5", "test.hdf5", "mean.json")


def _state(out, old, new):
    from pyimagesearch.io import read_build_id

    ids = []
    for name in NAMES:
        path = os.path.join(out, name)
        ids.append("missing" if not os.path.exists(path) else
                   {old: "old", new: "new"}.get(read_build_id(path), "other"))
    kinds = set(ids)
    return ("old set" if kinds == {"old"} else "new set" if kinds == {"new"}
            else "MIXED " + "/".join(ids))


def main():
    if shutil.which("strace") is None:
        sys.exit("strace is not installed (apt-get install strace).")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from datagen import write_image_tree

    from pyimagesearch.infra.publish import UnfinishedPublishError
    from pyimagesearch.io import HDF5DatasetGenerator, read_build_id

    work = tempfile.mkdtemp()
    images = os.path.join(work, "images")
    write_image_tree(images, per_class=6, ext="png")
    base = ["pyimagesearch", "build-dataset", "-d", images, "--size", "8", "--val-size", "3",
            "--test-size", "3", "-q"]
    old_dir = os.path.join(work, "old")
    subprocess.run([*base, "-o", old_dir], check=True, capture_output=True)
    old = read_build_id(os.path.join(old_dir, "train.hdf5"))
    print(f"{'signal':8} {'rename':>6}  {'exit':>4}  {'after the run':28} {'journal':7}  {'a reader':8}  "
          "after repair")
    for signal in ("SIGKILL", "SIGINT", "SIGTERM"):
        for when in range(1, 6):  # 1: the journal (the commit point), 2-5: train, val, test, means
            out = os.path.join(work, f"{signal}-{when}")
            shutil.copytree(old_dir, out)
            run = subprocess.run(
                ["strace", "-f", "-qq", "-o", os.devnull, "-e", "trace=rename",
                 "-e", f"inject=rename:signal={signal}:when={when}",
                 *base, "-o", out, "--overwrite", "--workers", "1"],
                capture_output=True, text=True)
            ids = {read_build_id(os.path.join(out, name)) for name in NAMES
                   if os.path.exists(os.path.join(out, name))}
            new = next(iter(ids - {old}), None)
            journal = os.path.exists(os.path.join(out, ".pyimagesearch.publish"))
            after_run = _state(out, old, new)
            try:
                HDF5DatasetGenerator(os.path.join(out, "train.hdf5"), 4, classes=3).close()
                reader = "reads"
            except UnfinishedPublishError:
                reader = "refuses"
            subprocess.run(["pyimagesearch", "repair", out], check=True, capture_output=True)
            new = new or next(iter({read_build_id(os.path.join(out, n)) for n in NAMES} - {old}), None)
            print(f"{signal:8} {when:>6}  {run.returncode:>4}  {after_run:28} {'yes' if journal else 'no':7}  "
                  f"{reader:8}  {_state(out, old, new)}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
