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
        "pyimagesearch.distribute",
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
            # lazy_loader.attach names submodules relative to the facade
            exact |= {module for module in MODULES if module.rpartition(".")[0] == facade
                      and f'"{module.rpartition(".")[2]}"' in source}
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


# ---- the house rules (CONTRIBUTING.md, "Explicit beats clever") ----

# the one place allowed to look at its caller's frame, and why: CONTRIBUTING.md
STACK_INSPECTION_ALLOWED = {"pyimagesearch.augmentation.numpyarrayiterator"}
# module-level state that stands for something the process has only one of, with the reason
REGISTRIES_ALLOWED = {
    # the record of a received SIGINT/SIGTERM: signal handlers are per process (issue 27 owns it)
    ("pyimagesearch.infra.signals", "_state"),
}
_STACK_CALLS = {("sys", "_getframe"), ("sys", "_current_frames"), ("inspect", "stack"),
                ("inspect", "currentframe"), ("inspect", "getouterframes"), ("inspect", "trace")}
_MUTATORS = {"append", "add", "update", "setdefault", "pop", "popitem", "clear", "remove", "discard",
             "insert", "extend", "__setitem__", "__delitem__"}
_MUTABLE_FACTORIES = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "WeakSet",
                      "WeakValueDictionary", "WeakKeyDictionary", "Counter"}


def _dotted(node):
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id] + parts[::-1])
    return None


def stack_inspection(tree):
    """Line numbers of `sys._getframe`, `inspect.stack`, ... (called or referenced) in `tree`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (_dotted(node.value), node.attr) in _STACK_CALLS:
            found.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module in ("sys", "inspect"):
            found.extend(node.lineno for alias in node.names if (node.module, alias.name) in _STACK_CALLS)
    return found


def import_hooks(tree):
    """Line numbers where `sys.meta_path` (or `sys.path_hooks`) is used in `tree`."""
    found = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute)
             and node.attr in ("meta_path", "path_hooks") and _dotted(node.value) == "sys"]
    found += [node.lineno for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
              and node.module == "sys" and any(a.name in ("meta_path", "path_hooks") for a in node.names)]
    return found


def module_registries(tree):
    """`(name, line)` of module-level mutable containers that a function or method mutates."""
    mutable = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else [])
        value = getattr(node, "value", None)
        is_mutable = isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp,
                                        ast.SetComp)) or (
            isinstance(value, ast.Call) and (_dotted(value.func) or "").rpartition(".")[2] in _MUTABLE_FACTORIES)
        for target in targets:
            if is_mutable and isinstance(target, ast.Name):
                mutable[target.id] = node.lineno
    found = set()
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        for node in ast.walk(function):
            name = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in _MUTATORS and isinstance(node.func.value, ast.Name):
                name = node.func.value.id
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                for target in getattr(node, "targets", None) or [node.target]:
                    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                        name = target.value.id
            elif isinstance(node, ast.Global):
                found.update((global_name, mutable[global_name]) for global_name in node.names
                             if global_name in mutable)
            if name in mutable:
                found.add((name, mutable[name]))
    return sorted(found)


def _house_rule_breaches(module, tree):
    breaches = []
    if module not in STACK_INSPECTION_ALLOWED:
        breaches += [f"{module}:{line}: stack inspection" for line in stack_inspection(tree)]
    breaches += [f"{module}:{line}: an import hook (sys.meta_path)" for line in import_hooks(tree)]
    breaches += [f"{module}:{line}: module-level registry {name!r} mutated by functions"
                 for (name, line) in module_registries(tree) if (module, name) not in REGISTRIES_ALLOWED]
    return breaches


def test_the_library_keeps_the_house_rules():
    breaches = [breach for (module, path) in MODULES.items()
                for breach in _house_rule_breaches(module, ast.parse(path.read_text()))]
    assert not breaches, "house rules broken (see CONTRIBUTING.md):\n" + "\n".join(breaches)


def test_the_one_stack_inspection_is_still_where_contributing_says():
    tree = ast.parse(MODULES["pyimagesearch.augmentation.numpyarrayiterator"].read_text())
    assert stack_inspection(tree), "the exception is gone: remove it from STACK_INSPECTION_ALLOWED"
    assert "numpyarrayiterator" in (ROOT.parent / "CONTRIBUTING.md").read_text()


@pytest.mark.parametrize("source, breach", [
    ("import sys\ndef caller():\n    return sys._getframe(1).f_code.co_name\n", "stack inspection"),
    ("import inspect\ndef caller():\n    return inspect.stack()[1]\n", "stack inspection"),
    ("from inspect import currentframe\n", "stack inspection"),
    ("import sys\nclass Hook:\n    pass\nsys.meta_path.insert(0, Hook())\n", "import hook"),
    ("import sys\ndef uninstall(hook):\n    sys.meta_path.remove(hook)\n", "import hook"),
    ("_HELD = {}\nclass A:\n    def take(self, p):\n        _HELD[p] = 1\n"
     "class B:\n    def drop(self, p):\n        del _HELD[p]\n", "module-level registry '_HELD'"),
    ("import weakref\n_RUNNING = weakref.WeakSet()\nclass Pool:\n    def start(self):\n"
     "        _RUNNING.add(self)\n", "module-level registry '_RUNNING'"),
    ("_seen = set()\ndef once(key):\n    _seen.add(key)\n", "module-level registry '_seen'"),
    ("_STATE = []\ndef reset():\n    global _STATE\n    _STATE = []\n", "module-level registry '_STATE'"),
])
def test_each_house_rule_check_fails_on_a_planted_breach(tmp_path, source, breach):
    planted = tmp_path / "planted.py"
    planted.write_text(source)
    breaches = _house_rule_breaches("pyimagesearch.planted", ast.parse(planted.read_text()))
    assert breaches and all(breach in line for line in breaches), breaches


def test_the_house_rule_checks_let_constants_and_instance_state_through():
    source = ("NAMES = {'a': 1}\nORDER = ['x']\nclass A:\n    def __init__(self):\n        self.held = {}\n"
              "    def take(self, p):\n        self.held[p] = NAMES[p]\n        local = []\n"
              "        local.append(ORDER[0])\n")
    assert _house_rule_breaches("pyimagesearch.planted", ast.parse(source)) == []
