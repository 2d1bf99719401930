"""MkDocs hook: each notebook of notebooks/ becomes a page of the site, notebooks/NAME.md.

The notebooks are stored without outputs; a page shows their text and code, and
links the notebook to download. The test suite runs them (tests/test_notebooks.py).
"""

import json
import pathlib

from mkdocs.structure.files import File

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[2] / "notebooks"


def on_files(files, config):
    """Adds a generated page, and the notebook itself, for every notebook."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        files.append(File.generated(config, f"notebooks/{path.stem}.md", content=render(path)))
        files.append(File.generated(config, f"notebooks/{path.name}", abs_src_path=str(path)))
    return files


def render(path):
    """The Markdown of a notebook: its Markdown cells as they are, its code cells as Python blocks."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"]).strip("\n")
        if cell["cell_type"] == "markdown":
            parts.append(source)
        elif cell["cell_type"] == "code" and source:
            parts.append(f"```python\n{source}\n```")
    if parts and parts[0].startswith("# "):
        title, _, rest = parts[0].partition("\n")
        parts[0] = f"{title}\n\n[Download the notebook]({path.name}) (`notebooks/{path.name}` in the repository)" \
                   f" and run it with Jupyter; its figures appear as it runs.\n{rest}"
    return "\n\n".join(parts) + "\n"
