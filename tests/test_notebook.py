"""docs/tutorial.ipynb is what tools/sync_notebook.py generates from docs/tutorial.md, and it runs top to bottom."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import digits_path
from tests.test_docs import PNG_MAGIC, TUTORIAL_PNGS, python_blocks

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _sync_tool():
    spec = importlib.util.spec_from_file_location("sync_notebook", ROOT / "tools" / "sync_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _require(name: str):
    """Import an optional test dependency; under CI its absence is a failure, elsewhere a skip."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        reason = f"{name} is not installed ({exc}); pip install -e '.[dev]'"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


# -- in sync with tutorial.md ------------------------------------------------------------------------------------
def test_notebook_is_what_tutorial_md_generates():
    tool = _sync_tool()
    expected = tool.generate(DOCS / "tutorial.md")
    actual = (DOCS / "tutorial.ipynb").read_text(encoding="utf-8")
    assert actual == expected, "docs/tutorial.ipynb is out of date: run python tools/sync_notebook.py"
    assert tool.main(["--check"]) == 0


def test_code_cells_are_the_tutorials_python_blocks_and_the_prose_is_kept():
    markdown = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    notebook = json.loads((DOCS / "tutorial.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code == [block.rstrip("\n") for block in python_blocks(markdown)]
    assert len(code) >= 10
    prose = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    for line in markdown.splitlines():
        if line.strip() and not line.startswith("```"):
            assert line in prose or any(line in block for block in code), f"lost from the notebook: {line!r}"
    assert all(not c["outputs"] and c["execution_count"] is None for c in notebook["cells"]
               if c["cell_type"] == "code")                          # stored without outputs


def test_sync_tool_splits_prose_and_code_and_check_reports_drift(tmp_path):
    tool = _sync_tool()
    source = tmp_path / "t.md"
    source.write_text("# Title\n\nSome text.\n\n```python\na = 1\n\nb = a\n```\n\nMore.\n\n```\nnot python\n```\n",
                      encoding="utf-8")
    cells = tool.build_notebook(source.read_text(encoding="utf-8"))["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "markdown", "code", "markdown"]
    assert cells[1]["source"] == ["# Title\n", "\n", "Some text."]
    assert cells[2]["source"] == ["a = 1\n", "\n", "b = a"]
    assert cells[3]["source"] == ["More.\n", "\n", "```\n", "not python\n", "```"]
    target = tmp_path / "t.ipynb"
    assert tool.main(["--markdown", str(source), "--notebook", str(target), "--check"]) == 1    # missing
    assert tool.main(["--markdown", str(source), "--notebook", str(target)]) == 0
    assert tool.main(["--markdown", str(source), "--notebook", str(target), "--check"]) == 0
    source.write_text(source.read_text(encoding="utf-8") + "\nA new line.\n", encoding="utf-8")
    assert tool.main(["--markdown", str(source), "--notebook", str(target), "--check"]) == 1
    with pytest.raises(TypeError, match="markdown"):
        tool.split_tutorial(b"bytes")


def test_notebook_is_valid_nbformat():
    nbformat = _require("nbformat")
    notebook = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4 and notebook.nbformat_minor == 5


# -- runs top to bottom ------------------------------------------------------------------------------------------
def _kernel_manager(tmp_path: Path):
    """A kernel of this very interpreter (the venv's python), from a kernel spec written for the test: nothing
    installed or registered outside ``tmp_path``, whatever kernels the machine has."""
    jupyter_client_manager = _require("jupyter_client.manager")
    kernelspec = _require("jupyter_client.kernelspec")
    _require("ipykernel")
    spec_dir = tmp_path / "kernels" / "tinynet-test"
    spec_dir.mkdir(parents=True)
    env = {"MPLBACKEND": "Agg", "IPYTHONDIR": str(tmp_path / "ipython"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tinynet test kernel", "language": "python", "env": env}), encoding="utf-8")
    specs = kernelspec.KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    return jupyter_client_manager.KernelManager(kernel_name="tinynet-test", kernel_spec_manager=specs,
                                                connection_file=str(tmp_path / "kernel-connection.json"))


def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    source = digits_path()
    nbformat = _require("nbformat")
    nbclient = _require("nbclient")
    work = tmp_path / "work"
    (work / "Data").mkdir(parents=True)
    shutil.copyfile(source, work / "Data" / "ex3data1.mat")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    notebook = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    km = _kernel_manager(tmp_path)
    client = nbclient.NotebookClient(notebook, km=km, timeout=300, startup_timeout=120,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()                          # raises CellExecutionError, with the cell and traceback, on failure
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))     # every cell, in order
    text = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert "Total params: 10575" in text
    assert "max relative error" in text and "OK" in text
    assert "training accuracy on zeros and ones" in text
    for name in TUTORIAL_PNGS:
        data = (work / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000, name


def test_a_missing_dependency_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="tinynet_no_such_module"):
        _require("tinynet_no_such_module")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="tinynet_no_such_module"):
        _require("tinynet_no_such_module")
