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
