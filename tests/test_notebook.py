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


def test_every_figure_of_the_notebook_is_labelled_and_shows_what_its_heading_says(
    nico, tmp_path, monkeypatch
):
    """The notebook's code, run in this process so its figures can be looked at: every axis
    labelled, highlight marks apart, and the "when people commented" panel showing comments
    per period (not the cumulative total)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot

    from tests.test_analysis import assert_labelled

    db = tmp_path / "demo.db"
    result = nico("demo", "--big-comments", "3000", "--protocol", "legacy", "--db", db)
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("NICO_DEMO_DB", str(db))
    notebook = nbformat.read(ROOT / "examples" / "analysis.ipynb", as_version=4)
    shown = []
    monkeypatch.setattr(pyplot, "show", lambda *a, **k: shown.append(pyplot.gcf()))
    namespace: dict = {}
    headings = []
    try:
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                headings.append(cell.source.splitlines()[0])
                continue
            before = len(shown)
            exec(compile(cell.source, "notebook", "exec"), namespace)
            for figure in shown[before:]:
                figure.canvas.draw()
                assert_labelled(figure)
                figure.heading = headings[-1]
        assert len(shown) >= 4
        [activity_figure] = [f for f in shown if "When people commented" in f.heading]
        [axis, _share] = activity_figure.axes
        heights = list(axis.lines[0].get_ydata())[:-1]  # one per period (the last repeated)
        assert sum(heights) == len(namespace["df"])  # counts per period, not a running total
        [highlight_figure] = [f for f in shown if f.heading == "## Highlights"]
        renderer = highlight_figure.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in highlight_figure.axes[0].texts]
        assert len(boxes) == len(namespace["highlights"]) > 0
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    finally:
        pyplot.close("all")
