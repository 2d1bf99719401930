"""The library's import graph: floors that only import downwards, and no circle.

The graph is read from the source with `ast` (module-level imports, imports
inside functions, and `importlib.import_module("...")` with a literal name).
A package's `__init__` is a facade: it has no floor of its own, but what it
imports at module level is loaded by everything that imports one of its
modules, so it counts for the floors of those.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import pyimagesearch

ROOT = Path(pyimagesearch.__file__).parent

# Floors, lowest first. A module belongs to the floor of its longest matching prefix.
FLOORS = [
    ("ground: runtime and file, signal, progress and randomness infrastructure", [
        "pyimagesearch.runtime", "pyimagesearch.infra",
    ]),
    # nn sits here, not above io: io.features builds its extractor from nn.applications
    ("images and networks", [
        "pyimagesearch.preprocessing", "pyimagesearch.augmentation", "pyimagesearch.datasets",
        "pyimagesearch.nn",
    ]),
    ("HDF5 datasets", ["pyimagesearch.io"]),
    # below callbacks: TrainingMonitor draws with utils.plots, EpochCheckpoint uses utils.checkpoints
    ("evaluation, schedules, plots", ["pyimagesearch.utils"]),
    ("callbacks", ["pyimagesearch.callbacks"]),
    ("commands and distribution", [
        "pyimagesearch.commands", "pyimagesearch.cli", "pyimagesearch.__main__",
        "pyimagesearch.distribute", "pyimagesearch.outsidedistribution", "pyimagesearch.rendezvous",
        "pyimagesearch.launch",
    ]),
]


def _modules():
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()
FACADES = {name for (name, path) in MODULES.items() if path.name == "__init__.py"}


def _floor(module):
    matches = [(len(prefix), level) for (level, (_, prefixes)) in enumerate(FLOORS)
               for prefix in prefixes if module == prefix or module.startswith(prefix + ".")]
    return max(matches)[1] if matches else None


def _known(name):
    """The deepest module of the library that `name` (a dotted path) names, or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name if name and name.startswith("pyimagesearch") else None


def _parents(module):
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _read_imports(module):
    """`(target, in_function, imported_names)` for every import of the library in `module`."""
    tree = ast.parse(MODULES[module].read_text())
    package = module if module in FACADES else module.rpartition(".")[0]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, inner, ()) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[:len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in child.names:
                    if f"{base}.{alias.name}" in MODULES:
                        found.append((f"{base}.{alias.name}", inner, ()))
                    else:
                        found.append((base, inner, (alias.name,)))
            elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                  and child.func.attr == "import_module" and child.args
                  and isinstance(child.args[0], ast.Constant)
                  and isinstance(child.args[0].value, str)):
                found.append((child.args[0].value, inner, ()))
            visit(child, inner)

    visit(tree, False)
    return [(_known(target), inner, names) for (target, inner, names) in found
            if _known(target)]


IMPORTS = {module: _read_imports(module) for module in MODULES}


def _loaded_by_import(module):
    """Every module that `import module` runs: its packages and module-level imports, transitively."""
    loaded = set()
    pending = [module]
    while pending:
        current = pending.pop()
        for name in [current] + _parents(current):
            if name in loaded:
                continue
            loaded.add(name)
            pending.extend(target for (target, inner, _) in IMPORTS[name] if not inner)
    return loaded


def _providers(facade, names):
    """The modules that give `names` to `from facade import names`."""
    providers = set()
    for name in names:
        exact = {target for (target, _, given) in IMPORTS[facade] if name in given}
        exact |= {target for (target, _, _) in IMPORTS[facade]
                  if target.rpartition(".")[2] == name}
        source = MODULES[facade].read_text()
        if not exact:  # a lazy name: the modules the facade names
            exact = {target for (target, _, _) in IMPORTS[facade]}
            exact |= {module for module in MODULES if f'"{module}"' in source}
        providers |= exact
    return providers or {target for (target, _, _) in IMPORTS[facade]}


def _edges():
    """Module -> the modules it uses, with facades replaced by what they provide."""
    edges = {}
    for module in MODULES:
        if module in FACADES:
            continue
        targets = set()
        for (target, _, names) in IMPORTS[module]:
            pending = [(target, names)]
            while pending:
                (current, wanted) = pending.pop()
                if current not in FACADES:
                    targets.add(current)
                    continue
                for provider in _providers(current, wanted) - {current}:
                    pending.append((provider, ()))
        edges[module] = targets - {module}
    return edges


def test_every_module_has_a_floor():
    assert not [m for m in MODULES if m not in FACADES and m != "pyimagesearch"
                and _floor(m) is None], "add the new module to a floor of FLOORS"


def test_no_module_imports_or_loads_a_higher_floor():
    wrong = []
    for (module, imports) in IMPORTS.items():
        if module in FACADES:
            continue
        level = _floor(module)
        for (target, inner, _) in imports:
            for loaded in _loaded_by_import(target) - FACADES:
                if _floor(loaded) > level:
                    how = "inside a function" if inner else "at import"
                    wrong.append(f"{module} ({FLOORS[level][0]}) -> {target} {how} loads, "
                                 f"with its packages, "
                                 f"{loaded} ({FLOORS[_floor(loaded)][0]})")
    assert not wrong, "imports up the floors:\n" + "\n".join(sorted(set(wrong)))


def test_no_import_circle():
    edges = _edges()
    (state, circles) = ({}, [])

    def visit(module, path):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_graph_reader_sees_function_level_and_package_imports():
    # the checks above pass only if the reader sees these edges (main had a circle through the
    # function-level one, and io loaded utils.plots through the utils package; a package import
    # loads its __init__ too)
    assert "pyimagesearch.io.hdf5datasetwriter" in _edges()["pyimagesearch.io.build"]
    assert "pyimagesearch.augmentation.numpyarrayiterator" in \
        _edges()["pyimagesearch.augmentation.imageaugmenter"]
    assert "pyimagesearch.utils.ranked" in _edges()["pyimagesearch.commands.rank_accuracy"] \
        or "pyimagesearch.utils.evaluation" in _edges()["pyimagesearch.commands.rank_accuracy"]
    assert _floor("pyimagesearch.utils.plots") > _floor("pyimagesearch.io.build")
    assert "pyimagesearch.infra" in _loaded_by_import("pyimagesearch.io.build")


@pytest.fixture(scope="module")
def imported_in_a_fresh_process():
    code = (
        "import sys\n"
        "import pyimagesearch.io, pyimagesearch.augmentation, pyimagesearch.infra.atomic\n"
        "print(sorted(m for m in ('matplotlib', 'sklearn') if m in sys.modules))\n"
        "from pyimagesearch.utils import rank5_accuracy\n"
        "print(rank5_accuracy.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_importing_io_and_augmentation_loads_no_matplotlib(imported_in_a_fresh_process):
    assert imported_in_a_fresh_process[0] == "[]"


def test_the_books_rank5_import_still_works(imported_in_a_fresh_process):
    assert imported_in_a_fresh_process[1] == "pyimagesearch.utils.ranked"
