"""Where a build may write the files of a set: inside its output folder, unless told otherwise."""

import os

SPLIT_FILES = ("train.hdf5", "val.hdf5", "test.hdf5")


def means_target(output_dir, means_name, argument="means_name"):
    """The means JSON's path for a build into `output_dir`, and whether it lies outside it.

    A relative `means_name` is a bare file name in `output_dir` ("mean.json");
    an absolute path is taken as meant, inside the folder or not (the build
    then says where it wrote). Either way it is a `.json` file, so it can never
    be a file of the set (`train.hdf5`, ...) or the folder's lock or journal.

    Args:
        output_dir: the build's output folder.
        means_name: the means file's name, or an absolute path.
        argument: how messages name `means_name` ("--means" for the command).

    Returns:
        `(path, outside)`: the means file's path and whether it is outside `output_dir`.

    Raises:
        ValueError: `means_name` is not a `.json` name, or a relative path
            with a folder in it (`../x.json`, `sub/x.json`).
    """
    name = os.fspath(means_name)
    if not isinstance(name, str) or not name.endswith(".json") or os.path.basename(name) == ".json":
        raise ValueError(f"{argument} {name!r}: expected the name of a .json file (e.g. mean.json).")
    if os.path.isabs(name):
        path = os.path.normpath(name)
        return path, os.path.dirname(path) != os.path.abspath(output_dir)
    if os.path.basename(name) != name or (os.altsep and os.altsep in name):
        raise ValueError(
            f"{argument} {name!r}: a relative name must be a file name inside the output folder "
            f"(e.g. mean.json); pass an absolute path to write the means elsewhere on purpose.")
    return os.path.join(os.fspath(output_dir), name), False
