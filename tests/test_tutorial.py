"The tutorial notebook runs with papermill (small parameters) and leaves the outputs it promises."
import json
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.integration


def test_tutorial_runs_and_writes_its_outputs(tmp_path):
    papermill = pytest.importorskip("papermill")
    from cellvae.data import synthetic_counts
    data = tmp_path / "cells.h5ad"
    synthetic_counts(n_cells=500, n_genes=300, n_types=4, seed=0).write_h5ad(data)
    out = tmp_path / "out"
    papermill.execute_notebook(str(ROOT / "nbs" / "tutorial.ipynb"), str(tmp_path / "tutorial.out.ipynb"),
                               parameters=dict(data_path=str(data), max_epochs=5, output_dir=str(out)),
                               cwd=str(tmp_path), kernel_name="python3", progress_bar=False)
    for f in ("encoder.onnx", "encoder.genes", "cluster.onnx", "encodings.npy", "tutorial.h5ad", "metrics.json",
              "figures/umap_cell_type.png", "features.json", "markers.csv"):
        assert (out / f).exists(), f
    m = json.loads((out / "metrics.json").read_text())
    assert {"annotation", "clustering"} <= set(m) and 0 <= m["annotation"]["knn"]["f1_macro"] <= 1


def test_cli_tutorial_runs_every_command_and_writes_its_outputs(tmp_path):
    "The command-line tutorial: every `!cellvae` cell succeeds (no `Error:` in any output) and leaves its files."
    papermill = pytest.importorskip("papermill")
    from cellvae.data import synthetic_counts
    data = tmp_path / "cells.h5ad"
    synthetic_counts(n_cells=600, n_genes=300, n_types=4, seed=0).write_h5ad(data)
    out, executed = tmp_path / "out", tmp_path / "tutorial_cli.out.ipynb"
    papermill.execute_notebook(str(ROOT / "nbs" / "tutorial_cli.ipynb"), str(executed),
                               parameters=dict(data_path=str(data), max_epochs=5, output_dir=str(out)),
                               cwd=str(tmp_path), kernel_name="python3", progress_bar=False)
    for f in ("config.yml", "reference.h5ad", "sample.h5ad", "sample.genes", "runs/reference/model/encoder.onnx",
              "runs/reference/model/annotator.onnx", "runs/reference/report.html", "runs/reference/figures/umap_labels.png",
              "sample-encodings.npy", "sample-cluster.onnx", "sample-cluster-labels.npy", "sample-annotations.csv",
              "reference-report.html"):
        assert (out / f).exists(), f
    texts = [o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
             for c in json.loads(executed.read_text())["cells"] for o in c.get("outputs", [])]
    shown = "\n".join(texts)
    assert "Error:" not in shown and "Traceback" not in shown, shown[-3000:]
    assert "f1" in shown.lower() and "accuracy" in shown.lower()  # eval and annotate printed their scores
    images = [o for c in json.loads(executed.read_text())["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images  # the UMAP of the reference run is shown
