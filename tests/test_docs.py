"""The documentation site builds strictly: no broken link, snippet or API reference."""

import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-5000:]
    return folder


def test_site_builds_strictly_with_every_page(site):
    for page in ("index", "book/index", "examples/index", "migration/index", "gpu/index",
                 "reliability/index", "performance/index", "notebooks/index", "contributing/index",
                 "api/index"):
        assert (site / f"{page}.html").is_file(), page


def test_every_notebook_is_a_page(site):
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        assert (site / "notebooks" / notebook.stem / "index.html").is_file(), notebook.name
        assert (site / "notebooks" / notebook.name).is_file(), notebook.name


def test_every_command_option_is_on_the_site(site):
    # the page is generated from the parsers at build time: an option added to a
    # command is on the site without anyone writing it there
    import html

    from pyimagesearch.cli import COMMANDS, build_parser

    page = html.unescape((site / "api" / "commands" / "index.html").read_text())
    parser = build_parser()
    (commands,) = [action for action in parser._actions if action.choices and set(COMMANDS) <= set(action.choices)]
    for name in COMMANDS:
        assert f"usage: pyimagesearch {name}" in page, name
        for action in commands.choices[name]._actions:
            for option in action.option_strings:
                assert option in page, (name, option)
    assert "launch" in (ROOT / "README.md").read_text().split("## Three snippets")[0]


def _public_names(package):
    import importlib

    module = importlib.import_module(f"pyimagesearch.{package}")
    assert hasattr(module, "__all__"), f"pyimagesearch.{package} has no __all__"
    return list(module.__all__)


@pytest.mark.parametrize("package, page", [
    ("preprocessing", "preprocessing"), ("augmentation", "augmentation"), ("datasets", "datasets"),
    ("io", "io"), ("nn.conv", "nn"), ("callbacks", "callbacks"), ("utils", "utils")])
def test_api_reference_documents_every_public_name(site, package, page):
    html = (site / "api" / page / "index.html").read_text()
    # a name is documented where the package exports it, or (loaded lazily) where it is defined
    ids = set(re.findall(r'id="(pyimagesearch\.[\w.]+)"', html))
    missing = [name for name in _public_names(package)
               if f"pyimagesearch.{package}.{name}" not in ids
               and not any(i.startswith(f"pyimagesearch.{package}.") and i.endswith(f".{name}") for i in ids)]
    assert not missing, missing


def test_snippets_of_the_repository_files_are_included(site):
    gpu = (site / "gpu" / "index.html").read_text()
    assert "mixed_float16" in gpu and "SLURM_PROCID" in gpu  # from examples/README.md
    contributing = (site / "contributing" / "index.html").read_text()
    assert "House rules" in contributing  # CONTRIBUTING.md
    assert "--8&lt;--" not in gpu and "--8<--" not in gpu
