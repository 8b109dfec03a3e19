"""Execute every analysis notebook (``analysis_notebooks/*.ipynb``) and check that they are stored without outputs.

Each notebook ends in ``assert`` cells on its key results, so running it is the test. The notebooks run with the
repository root as working directory, on the ``python3`` kernel.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "analysis_notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
TIMEOUT_S = 120   # per cell


def test_notebooks_exist() -> None:
    names = {path.name for path in NOTEBOOKS}
    assert {"scaling_torus_ring_hierarchical.ipynb", "traffic_reduction_lowrank.ipynb", "cloud_compression.ipynb",
            "calibration.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_without_outputs(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["nbformat"] == 4
    assert data["metadata"]["kernelspec"]["name"] == "python3"
    code = [cell for cell in data["cells"] if cell["cell_type"] == "code"]
    assert code, "a notebook without code"
    for number, cell in enumerate(code):
        assert cell.get("outputs") == [], f"code cell {number} has stored outputs"
        assert cell.get("execution_count") is None, f"code cell {number} has an execution count"
    assert any("assert " in "".join(cell["source"]) for cell in code[-2:]), "the notebook ends without asserts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    kernelspec = pytest.importorskip("jupyter_client.kernelspec")
    try:
        kernelspec.KernelSpecManager().get_kernel_spec("python3")
    except kernelspec.NoSuchKernel:
        pytest.skip("no python3 Jupyter kernel installed")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
