"End to end on the command line, as a user runs it: train, encode, train-clusters, cluster, eval, viz, pipeline."
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cellvae.data import synthetic_counts, write_genes

CELLVAE = str(Path(sys.executable).parent / "cellvae")
pytestmark = pytest.mark.integration


def cellvae(*args, cwd):
    r = subprocess.run([CELLVAE, *map(str, args)], capture_output=True, text=True, cwd=cwd)
    return r


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    "A small trained run and a sample .h5ad whose .genes file lacks some model genes and holds extra ones."
    d = tmp_path_factory.mktemp("e2e")
    train = synthetic_counts(n_cells=400, n_genes=120, n_types=4, seed=0)
    train.write_h5ad(d / "train.h5ad")
    (d / "small.yaml").write_text("model:\n  hidden_dims: [32]\n  latent_dim: 6\ntrain:\n  max_epochs: 4\ndata:\n  n_top_genes: 100\n")
    r = cellvae("train", "train.h5ad", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "t", "--quiet", cwd=d)
    assert r.returncode == 0, r.stderr
    sample = synthetic_counts(n_cells=300, n_genes=120, n_types=4, seed=1)
    genes = [f"extra{j}" if j % 7 == 0 else g for j, g in enumerate(sample.var_names)]  # drops some model genes, adds others
    sample.var_names = [f"col{j}" for j in range(sample.n_vars)]  # the .genes file, not var_names, names the columns
    sample.write_h5ad(d / "sample.h5ad")
    write_genes(genes, d / "sample.genes")
    return d


def _outputs(d):
    return {n: (d / n).read_bytes() for n in ("sample-encodings.npy", "cluster.onnx", "sample-cluster-labels.npy",
                                              "sample-cluster-probabilities.npy")}


def _run_chain(d):
    enc = d / "runs" / "t" / "model" / "encoder.onnx"
    for args in (["encode", enc, "sample.h5ad", "--batch-size", "64", "--quiet"],
                 ["train-clusters", "sample-encodings.npy", "cluster.onnx", "--min-cluster-size", "10"],
                 ["cluster", "cluster.onnx", "sample-encodings.npy"]):
        r = cellvae(*args, cwd=d)
        assert r.returncode == 0, (args, r.stderr)
    return _outputs(d)


def test_encode_train_clusters_cluster(work):
    first = _run_chain(work)
    z = np.load(work / "sample-encodings.npy")
    labels = np.load(work / "sample-cluster-labels.npy")
    probs = np.load(work / "sample-cluster-probabilities.npy")
    assert z.shape == (300, 6) and z.dtype == np.float32
    assert labels.shape == (300,) and labels.dtype == np.int64 and probs.shape == (300,)
    assert _run_chain(work) == first  # a second run gives identical files
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_encode_reports_the_overlap(work):
    enc = work / "runs" / "t" / "model" / "encoder.onnx"
    r = cellvae("encode", enc, "sample.h5ad", "--output", "o.npy", cwd=work)
    assert r.returncode == 0 and "sample.genes" in r.stderr and "model genes found" in r.stderr


def test_dry_run_writes_nothing(work):
    r = cellvae("pipeline", "train.h5ad", "--config", "small.yaml", "--output-dir", "dry", "--run-id", "x", "--dry-run", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "nothing written" in r.stderr and not (work / "dry").exists()


@pytest.mark.parametrize("cmd", ["pipeline", "train", "encode", "train-clusters", "cluster", "annotate", "eval", "viz", "report", "inspect", "profile"])
def test_every_command_has_help_with_an_example(cmd, tmp_path):
    r = cellvae(cmd, "--help", cwd=tmp_path)
    assert r.returncode == 0 and "Example: cellvae" in r.stdout


def test_pipeline_run_folder(work):
    r = cellvae("pipeline", "train.h5ad", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "p", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    run = work / "runs" / "p"
    for f in ("config.used.yaml", "metrics.json", "model/model.pt", "model/encoder.onnx", "model/encoder.genes", "model/annotator.onnx",
              "model/cluster.onnx", "encodings.npy", "cluster-labels.npy", "adata.h5ad", "figures/umap_labels.png",
              "features.json", "markers.csv", "report.html"):
        assert (run / f).exists(), f
    m = json.loads((run / "metrics.json").read_text())
    assert {"train", "annotation", "annotator", "clustering", "timings"} <= set(m)
    assert m["annotator"]["held_out"]["accuracy"] > 0.5
    import anndata as ad
    a = ad.read_h5ad(run / "adata.h5ad")
    assert {"X_cellvae", "X_umap"} <= set(a.obsm) and a.obs["cellvae_cluster"].dtype.name == "category"
    r = cellvae("pipeline", "train.h5ad", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "p", cwd=work)
    assert r.returncode == 1 and "--overwrite" in r.stderr
    r = cellvae("eval", run, cwd=work)
    assert r.returncode == 0 and "f1" in r.stdout.lower()
    f = json.loads((run / "features.json").read_text())
    assert f["schema"] == "cellvae.features/1" and len(f["dimensions"]) == 6 and f["clusters"]
    assert {"report", "explain"} <= set(m["timings"]) and m["files"]["report"].endswith("report.html")


def test_report_of_a_run(work, tmp_path):
    "cellvae report on a run without features.json computes them; --output writes elsewhere; the page embeds its figures."
    r = cellvae("pipeline", "train.h5ad", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "rep", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    run = work / "runs" / "rep"
    for f in ("features.json", "markers.csv", "report.html"): (run / f).unlink()
    r = cellvae("report", run, "--output", tmp_path / "r.html", cwd=work)
    assert r.returncode == 0, r.stderr
    assert (run / "features.json").exists() and (run / "markers.csv").exists() and not (run / "report.html").exists()
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") >= 4 and "Latent dimensions" in html and "z5" in html
    assert "http://" not in html and "https://" not in html and "Content-Security-Policy" in html


def test_pipeline_and_train_with_a_batch_key(work):
    "--batch-key end to end: the ONNX encodings equal the model's latent, and metrics.json reports batch mixing."
    import anndata as ad
    from cellvae.vae import CellVAE
    synthetic_counts(n_cells=400, n_genes=120, n_types=4, n_batches=2, batch_effect=0.5, seed=3).write_h5ad(work / "batches.h5ad")
    r = cellvae("pipeline", "batches.h5ad", "--config", "small.yaml", "--batch-key", "batch", "--output-dir", "runs",
                "--run-id", "b", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    run = work / "runs" / "b"
    m = json.loads((run / "metrics.json").read_text())
    assert m["status"] == "complete" and m["data"]["batch_key"] == "batch" and m["data"]["n_batches"] == 2
    bm = m["batch_mixing"]
    assert bm["n_batches"] == 2 and 0.4 < bm["same_batch_expected"] < 0.6 and 0 <= bm["same_batch_fraction"] <= 1
    assert (run / "figures" / "umap_batch.png").exists()
    a = ad.read_h5ad(run / "adata.h5ad")
    z = CellVAE.load(run / "model").get_latent(a)
    assert np.abs(np.load(run / "encodings.npy") - z).max() <= 1e-4  # encoder.onnx and the model agree, batches and all
    assert np.abs(a.obsm["X_cellvae"] - z).max() <= 1e-4
    r = cellvae("train", "batches.h5ad", "--config", "small.yaml", "--batch-key", "batch", "--output-dir", "runs",
                "--run-id", "bt", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    assert json.loads((work / "runs" / "bt" / "metrics.json").read_text())["data"]["n_batches"] == 2


def test_pipeline_with_partial_labels(work):
    "Cells labelled Unknown or not at all (common in a reference) are trained on and clustered, and left out of every score."
    import anndata as ad
    a = synthetic_counts(n_cells=400, n_genes=120, n_types=4, n_batches=2, batch_effect=0.5, seed=4)
    types = a.obs["cell_type"].astype(object)
    a.obs["cell_type"] = types.where(np.arange(a.n_obs) % 5 > 0).where(np.arange(a.n_obs) % 7 > 0, "Unknown").astype("category")
    a.write_h5ad(work / "partial.h5ad")
    n_known = int(((np.arange(400) % 5 > 0) & (np.arange(400) % 7 > 0)).sum())
    r = cellvae("pipeline", "partial.h5ad", "--config", "small.yaml", "--batch-key", "batch", "--output-dir", "runs",
                "--run-id", "partial", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    run = work / "runs" / "partial"
    m = json.loads((run / "metrics.json").read_text())
    assert m["status"] == "complete" and m["data"]["n_cells"] == 400
    assert [m["annotation"][k]["n_cells"] for k in ("knn", "logreg")] == [n_known] * 2
    assert m["clustering"]["n_cells"] == m["clustering_leiden"]["n_cells"] == n_known
    assert set(m["annotation"]["knn"]["labels"]) == set(types)  # no 'nan' or 'Unknown' type
    assert m["batch_mixing"]["same_label_fraction"] is not None
    assert (run / "figures" / "cluster_composition.png").exists()
    f = json.loads((run / "features.json").read_text())
    assert {c["name"] for c in f["dimensions"][0]["cell_types"]} == set(types)
    assert "scored on the" in (run / "report.html").read_text()
    r = cellvae("eval", "--encodings", run / "encodings.npy", "--data", "partial.h5ad", "--labels-key", "cell_type", cwd=work)
    assert r.returncode == 0 and f"{n_known:,}" in r.stdout, r.stderr
    a.obs["cell_type"] = types.where(np.arange(a.n_obs) < 0).astype("category")  # nobody labelled: told before training
    a.write_h5ad(work / "unlabelled.h5ad")
    r = cellvae("pipeline", "unlabelled.h5ad", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "u", cwd=work)
    assert r.returncode == 1 and "no labelled cells" in r.stderr and not (work / "runs" / "u" / "model").exists(), r.stderr


def test_counts_in_adata_raw(work):
    "An .h5ad with normalised X and the counts of more genes in adata.raw (as CELLxGENE writes them): --layer raw everywhere."
    import anndata as ad
    import pandas as pd
    a = synthetic_counts(n_cells=400, n_genes=120, n_types=4, seed=5)
    symbols = list(a.var_names)
    a.var["feature_name"] = symbols  # and named by Ensembl id, the symbols in var
    a.var_names = [f"ENSG{i:011d}" for i in range(a.n_vars)]
    shown = ad.AnnData(X=a.X[:, :100].log1p(), obs=a.obs, var=a.var.iloc[:100].copy())
    shown.raw = a
    shown.write_h5ad(work / "cxg.h5ad")
    r = cellvae("pipeline", "cxg.h5ad", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "cxg", "--quiet", cwd=work)
    assert r.returncode == 1 and "Pass --layer raw to read the raw counts in adata.raw" in r.stderr, r.stderr
    r = cellvae("pipeline", "cxg.h5ad", "--layer", "raw", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "cxg", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    model = work / "runs" / "cxg" / "model"
    assert len((model / "encoder.genes").read_text().split()) == 100  # the HVGs of raw's 120 genes, not of X's 100
    assert not set((model / "encoder.genes").read_text().split()) <= set(shown.var_names)
    mk = pd.read_csv(work / "runs" / "cxg" / "markers.csv")
    assert set(mk.gene) <= set(symbols) and set(mk.gene_id) <= set(a.var_names)  # the report reads symbols
    assert json.loads((work / "runs" / "cxg" / "features.json").read_text())["gene_symbols"] == "feature_name"
    r = cellvae("encode", model / "encoder.onnx", "cxg.h5ad", "--layer", "raw", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    assert np.abs(np.load(work / "cxg-encodings.npy") - np.load(work / "runs" / "cxg" / "encodings.npy")).max() <= 1e-4
    r = cellvae("annotate", model / "annotator.onnx", "cxg.h5ad", "--layer", "raw", cwd=work)
    assert r.returncode == 0 and (work / "cxg-annotations.csv").exists(), r.stderr
    q = a.copy()  # a query named by symbol, the ids in var['gene_ids'] (as scanpy reads Cell Ranger's output)
    q.var["gene_ids"], q.var_names = list(a.var_names), symbols
    q.write_h5ad(work / "cr.h5ad")
    r = cellvae("annotate", model / "annotator.onnx", "cr.h5ad", cwd=work)
    assert r.returncode == 0 and "var['gene_ids']" in r.stderr, r.stderr
    import pandas as pd
    same = pd.read_csv(work / "cr-annotations.csv").label == pd.read_csv(work / "cxg-annotations.csv").label
    assert same.all()  # the same cells, the same labels


def test_run_adata_keeps_every_gene(work):
    "The pipeline's adata.h5ad: all genes, counts in a layer, log-normalised X, the model's genes marked."
    import anndata as ad
    r = cellvae("pipeline", "train.h5ad", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "genes", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    run = work / "runs" / "genes"
    a, raw = ad.read_h5ad(run / "adata.h5ad"), ad.read_h5ad(work / "train.h5ad")
    assert list(a.var_names) == list(raw.var_names) and a.var["highly_variable"].sum() == 100  # small.yaml's n_top_genes
    assert (a.layers["counts"] != raw.X).nnz == 0
    assert np.allclose(np.expm1(a.X[:3].toarray()).sum(1), 1e4, rtol=1e-4)
    model_genes = (run / "model" / "encoder.genes").read_text().split()
    assert model_genes == list(a.var_names[a.var["highly_variable"]])
    assert list(a.obs["cellvae_cluster"].cat.categories) == sorted(a.obs["cellvae_cluster"].cat.categories, key=int)


def test_train_quantize_writes_a_checked_int8_encoder(work):
    """`--quantize`: encoder.int8.onnx and its gene list beside the float encoder, its check in metrics.json, and
    `cellvae encode` runs it to encodings close to the float encoder's."""
    d = work
    r = cellvae("train", "train.h5ad", "--config", "small.yaml", "-o", "runs", "--run-id", "q", "--labels-key", "cell_type",
                "--quantize", "--quiet", cwd=d)
    assert r.returncode == 0, r.stderr
    model = d / "runs" / "q" / "model"
    check = json.loads((d / "runs" / "q" / "metrics.json").read_text())["encoder_int8"]
    assert check["written"] and check["f1_drop"] <= 0.005 and check["mb_int8"] < check["mb_float"], check
    assert (model / "encoder.int8.genes").read_text() == (model / "encoder.genes").read_text()
    for name in ("encoder.onnx", "encoder.int8.onnx"):
        r = cellvae("encode", model / name, "train.h5ad", "--output", f"{name}.npy", "--quiet", cwd=d)
        assert r.returncode == 0, r.stderr
    zf, zq = np.load(d / "encoder.onnx.npy"), np.load(d / "encoder.int8.onnx.npy")
    assert zf.shape == zq.shape and np.abs(zf - zq).max() < 0.2
