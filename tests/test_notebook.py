"""examples/analysis.ipynb runs top to bottom on a database made by `nico demo`."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT


@pytest.mark.slow
def test_the_example_notebook_runs(nico, tmp_path, monkeypatch):
    db = tmp_path / "demo.db"
    result = nico("demo", "--big-comments", "3000", "--protocol", "legacy", "--db", db)
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("NICO_DEMO_DB", str(db))
    notebook = nbformat.read(ROOT / "examples" / "analysis.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "comments of sm9" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4
