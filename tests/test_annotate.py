"""Annotation end to end: annotator.onnx runs with numpy and onnxruntime alone, `cellvae annotate` writes its files and
scores a labelled query, and a type the reference lacks comes back Unknown (pbmc3k, slow)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cellvae.data import synthetic_counts

CELLVAE = str(Path(sys.executable).parent / "cellvae")

_ORT_ONLY = r'''
import sys, importlib.abc
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"torch", "sklearn", "cellvae", "hdbscan", "onnxscript", "scanpy"}:
            raise ImportError(f"{name} is blocked: annotator.onnx must run without it")
sys.meta_path.insert(0, _Block())
import json, numpy as np, onnxruntime as ort
path, counts_path, out_path = sys.argv[1:4]
sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
labels = json.loads(sess.get_modelmeta().custom_metadata_map["labels"])
z, probs, label, conf, dist = sess.run(None, {"counts": np.load(counts_path)})
assert not [m for m in ("torch", "sklearn", "cellvae") if m in sys.modules]
np.savez(out_path, z=z, probs=probs, label=label, conf=conf, dist=dist, names=np.array(labels))
'''


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    "A small model trained with labels, its annotator.onnx, and a query of the same types."
    import torch
    import cellvae
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("annotate")
    both = synthetic_counts(n_cells=900, n_genes=100, n_types=4, seed=5)  # one draw: reference and query share the types
    ref, query = both[:600].copy(), both[600:].copy()
    model = cellvae.CellVAE(ref, labels_key="cell_type", hidden_dims=(32,), latent_dim=6)
    model.train(max_epochs=30, batch_size=64, progress=False)
    model.export_annotator(d / "annotator.onnx")
    query.write_h5ad(d / "query.h5ad")
    return d, model, query


def test_annotator_runs_with_onnxruntime_alone(trained, tmp_path):
    from cellvae.annotate import annotate
    d, model, query = trained
    counts = np.asarray(query.layers["counts"].toarray(), dtype=np.float32)
    np.save(tmp_path / "counts.npy", counts)
    r = subprocess.run([sys.executable, "-c", _ORT_ONLY, str(d / "annotator.onnx"), str(tmp_path / "counts.npy"),
                        str(tmp_path / "out.npz")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = np.load(tmp_path / "out.npz")
    lib = annotate(d / "annotator.onnx", query, layer="counts", quiet=True)
    np.testing.assert_allclose(out["z"], lib.latent, atol=1e-5)
    np.testing.assert_allclose(out["z"], model.get_latent(query), atol=1e-4)
    names = np.where(out["label"] >= 0, out["names"][np.maximum(out["label"], 0)], "Unknown")
    assert (names == lib.table["label"].astype(str).to_numpy()).all()
    assert (names == query.obs["cell_type"].astype(str).to_numpy())[names != "Unknown"].mean() > 0.9


def _cellvae(*args, cwd):
    return subprocess.run([CELLVAE, *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.mark.integration
def test_cellvae_annotate_writes_and_scores(trained):
    d, _, query = trained
    r = _cellvae("annotate", d, "query.h5ad", "--layer", "counts", "--labels-key", "cell_type", "--output-h5ad", "--quiet", cwd=d)
    assert r.returncode == 0, r.stderr
    csv = pd.read_csv(d / "query-annotations.csv")
    assert list(csv.columns) == ["cell_id", "label", "confidence", "reference_distance"] and len(csv) == query.n_obs
    s = json.loads((d / "query-annotation-summary.json").read_text())
    assert s["metrics"]["accuracy"] > 0.9 and s["gene_overlap"]["fraction"] == 1.0 and s["unknown_fraction"] < 0.2
    assert "accuracy" in r.stderr and (d / "query-annotated.h5ad").exists()
    assert not [p for p in d.iterdir() if p.name.startswith(".")]


@pytest.mark.integration
def test_cellvae_annotate_reports_unseen_labels_and_a_small_overlap(trained):
    "Query labels the reference never saw are reported, not fatal; a small gene overlap is one warning line."
    d, _, query = trained
    q = query.copy()
    q.obs["cell_type"] = q.obs["cell_type"].astype(str).replace({"type3": "macrophage"})
    q = q[:, :40].copy()  # 40 of the model's 100 genes
    q.write_h5ad(d / "partial.h5ad")
    r = _cellvae("annotate", d, "partial.h5ad", "--layer", "counts", "--labels-key", "cell_type", "--quiet", cwd=d)
    assert r.returncode == 0, r.stderr
    assert "Warning:" in r.stderr and "40 of 100 model genes" in r.stderr and "macrophage" in r.stderr
    s = json.loads((d / "partial-annotation-summary.json").read_text())
    assert s["metrics"]["unseen_labels"] == ["macrophage"] and s["gene_overlap"]["found"] == 40


@pytest.mark.slow
def test_pbmc3k_left_out_type_comes_back_unknown(pbmc3k_path, tmp_path):
    "pbmc3k halves, B cells removed from the reference: most query B cells are Unknown, few others are."
    import torch
    import cellvae
    from cellvae.annotate import annotate
    torch.set_num_threads(1)
    a = cellvae.read_counts(pbmc3k_path)
    order = np.random.default_rng(100).permutation(a.n_obs)
    ref, query = a[np.sort(order[: a.n_obs // 2])].copy(), a[np.sort(order[a.n_obs // 2:])].copy()
    ref = ref[ref.obs["cell_type"] != "B cells"].copy()
    cellvae.preprocess(ref)
    model = cellvae.CellVAE(ref, labels_key="cell_type")
    model.train(progress=False)
    held = model.export_annotator(tmp_path / "annotator.onnx")
    out = annotate(tmp_path / "annotator.onnx", query, layer="counts", quiet=True).table["label"].astype(str).to_numpy()
    b = (query.obs["cell_type"] == "B cells").to_numpy()
    unknown = out == "Unknown"
    print(f"Unknown: {unknown[b].mean():.3f} of B cells, {unknown[~b].mean():.3f} of the others; held-out {held['held_out']['accuracy']:.3f}")
    assert unknown[b].mean() > 0.5 and unknown[~b].mean() < 0.1
    assert (out[~b & ~unknown] == query.obs["cell_type"].astype(str).to_numpy()[~b & ~unknown]).mean() > 0.9
