"""The widget check of the browser tests fails on the widget failures learners meet, so its passes mean something.

Both notebooks run without an error in the kernel, so nbval passes them; only the browser shows the failure.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

pytestmark = pytest.mark.browser

STALE_MODEL_ID = "0123456789abcdef0123456789abcdef"


def test_a_widget_whose_module_is_not_installed_is_detected(lab) -> None:
    lab.open("fixtures/missing_widget_module.ipynb")
    lab.run_all()
    cell = lab.cell("Gauge()")
    assert cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    with pytest.raises(AssertionError, match="widget failure"):
        lab.expect_widget(cell, ".widget-text input")
    cell.locator(".jupyter-widgets-error-widget").click()  # the error widget reveals why, as a learner would see
    cell.get_by_text("Failed to load model class 'GaugeModel' from module 'kit-gauge-not-installed'").wait_for()
    lab.shot("detected", cell)


def test_a_saved_widget_whose_model_is_gone_is_detected(lab, lab_root: Path, lab_notary) -> None:
    """A notebook reopened with the output of a widget from a kernel that has gone: "model not found"."""
    output = new_output("display_data", data={
        "text/plain": "Text(value='', description='Hub host')",
        "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                     "model_id": STALE_MODEL_ID}})
    cell = new_code_cell('import ipywidgets as widgets\n\nwidgets.Text(description="Hub host")',
                         execution_count=1, outputs=[output])
    notebook = new_notebook(cells=[cell], metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                   "display_name": "Python 3 (ipykernel)"}})
    lab_notary.sign(notebook)
    nbformat.write(notebook, lab_root / "stale_widget_output.ipynb")
    lab.open("stale_widget_output.ipynb")
    cell = lab.cell("widgets.Text(")
    with pytest.raises(AssertionError, match="model not found"):
        lab.expect_widget(cell, ".widget-text input")
    lab.shot("detected", cell)
