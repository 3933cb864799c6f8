"""Generate docs/tutorial.ipynb from docs/tutorial.md: the prose as Markdown cells, each ```python block as a code
cell, in order. The Markdown file is the source; the notebook is regenerated from it, never edited by hand.

    python tools/sync_notebook.py            # (re)write docs/tutorial.ipynb
    python tools/sync_notebook.py --check    # exit 1 if docs/tutorial.ipynb is not what tutorial.md generates

Only the standard library is needed; tests/test_notebook.py checks that the two files agree and runs the notebook.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKDOWN = ROOT / "docs" / "tutorial.md"
NOTEBOOK = ROOT / "docs" / "tutorial.ipynb"

# The same fence rule as tests/test_docs.py's python_blocks: the blocks the tutorial test runs are the code cells.
PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$\n?", flags=re.S | re.M)

NOTE = ("*This notebook is generated from [tutorial.md](tutorial.md) by `tools/sync_notebook.py`: edit the Markdown "
        "file, then run `python tools/sync_notebook.py`. Run the cells from a folder that holds "
        "`Data/ex3data1.mat`.*")

METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def split_tutorial(markdown: str) -> list[tuple[str, str]]:
    """``[(kind, text)]`` with kind ``"markdown"`` or ``"code"``, in document order; blank prose is dropped."""
    if not isinstance(markdown, str):
        raise TypeError(f"markdown: expected the text of tutorial.md (str), received {type(markdown).__name__}")
    parts, position = [], 0
    for match in PYTHON_BLOCK.finditer(markdown):
        parts.append(("markdown", markdown[position:match.start()]))
        parts.append(("code", match.group(1)))
        position = match.end()
    parts.append(("markdown", markdown[position:]))
    cleaned = []
    for kind, text in parts:
        text = text.strip("\n") if kind == "markdown" else text.rstrip("\n")
        if text.strip():
            cleaned.append((kind, text))
    return cleaned


def _lines(text: str) -> list[str]:
    """Jupyter's on-disk form of a cell's source: its lines, each keeping its newline except the last."""
    return text.splitlines(keepends=True)


def build_notebook(markdown: str) -> dict:
    """The nbformat 4.5 notebook (as a dict) for the tutorial's Markdown text."""
    cells = [("markdown", NOTE)] + split_tutorial(markdown)
    out = []
    for index, (kind, text) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"cell-{index:02d}", "metadata": {}, "source": _lines(text)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {"cells": out, "metadata": METADATA, "nbformat": 4, "nbformat_minor": 5}


def render(notebook: dict) -> str:
    """The file's text, laid out as Jupyter and nbformat write it (indent 1, sorted keys, UTF-8)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def generate(markdown_path: Path = MARKDOWN) -> str:
    """The notebook text that ``markdown_path`` generates."""
    return render(build_notebook(Path(markdown_path).read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if the notebook is out of date")
    parser.add_argument("--markdown", type=Path, default=MARKDOWN, help="source (default docs/tutorial.md)")
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK, help="target (default docs/tutorial.ipynb)")
    args = parser.parse_args(argv)
    text = generate(args.markdown)
    current = args.notebook.read_text(encoding="utf-8") if args.notebook.is_file() else None
    if args.check:
        if current != text:
            print(f"{args.notebook} is out of date: run python tools/sync_notebook.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.notebook.write_text(text, encoding="utf-8")
        print(f"wrote {args.notebook}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
