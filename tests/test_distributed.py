"Encode, cluster and annotate on a Dask LocalCluster (2 worker processes, 1 thread each) equal the single-process path, in the library and on the command line."
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cellvae.data import synthetic_counts, write_genes

CELLVAE = str(Path(sys.executable).parent / "cellvae")


def cellvae(*args, cwd):
    return subprocess.run([CELLVAE, *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.mark.integration  # a fresh interpreter: ~4 s
def test_core_imports_without_dask():
    "Without dask installed, cellvae imports, and asking for a cluster is one clear error."
    code = ("import sys; sys.modules['dask'] = sys.modules['distributed'] = None\n"
            "import cellvae, cellvae.cli, cellvae.encode, cellvae.annotate, cellvae.cluster, cellvae.pipeline, cellvae.distributed\n"
            "from cellvae.core import InputError\n"
            "try: cellvae.distributed.dask_client(workers=2).__enter__()\n"
            "except InputError as e: print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Dask is not installed" in r.stdout and "cellvae[dask]" in r.stdout


@pytest.mark.integration
def test_cli_does_not_import_distributed(tmp_path):
    "The single-process commands never load the Dask module."
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom cellvae.cli import app\n"
            "CliRunner().invoke(app, ['encode', '--help'])\nassert 'cellvae.distributed' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    "A small run trained with labels (encoder.onnx, annotator.onnx) and a 1,500-cell sample whose .genes file differs from the model's."
    d = tmp_path_factory.mktemp("dask")
    synthetic_counts(n_cells=400, n_genes=120, n_types=4, seed=0).write_h5ad(d / "train.h5ad")
    (d / "small.yaml").write_text("model:\n  hidden_dims: [32]\n  latent_dim: 6\ntrain:\n  max_epochs: 4\ndata:\n  n_top_genes: 100\n")
    r = cellvae("train", "train.h5ad", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "t", "--quiet", cwd=d)
    assert r.returncode == 0, r.stderr
    sample = synthetic_counts(n_cells=1500, n_genes=120, n_types=4, seed=1)
    genes = [f"extra{j}" if j % 7 == 0 else g for j, g in enumerate(sample.var_names)]
    sample.var_names = [f"col{j}" for j in range(sample.n_vars)]
    sample.write_h5ad(d / "sample.h5ad")
    write_genes(genes, d / "sample.genes")
    return d


@pytest.mark.integration
def test_library_equals_single_process(work):
    "The library's Dask path gives the single-process encodings, cluster labels and annotations."
    from cellvae import annotate as A, cluster as C, encode as E
    from cellvae.distributed import annotate_file, cluster_encodings, dask_client, encode_file
    model = work / "runs" / "t" / "model"
    z1 = E.encode(model / "encoder.onnx", work / "sample.h5ad", batch_size=100, quiet=True)
    np.save(work / "one-encodings.npy", z1)
    fit = C.fit_clusters(z1, min_cluster_size=15)
    C.export_cluster_model(fit, work / "lib-cluster.onnx")
    l1, p1 = C.cluster(work / "lib-cluster.onnx", z1)
    s1 = A.annotate_file(model, work / "sample.h5ad", output=work / "one", quiet=True)
    with dask_client(workers=2) as client:
        info = client.scheduler_info()["workers"].values()
        assert sorted(w["nthreads"] for w in info) == [1, 1]
        out = encode_file(model / "encoder.onnx", work / "sample.h5ad", work / "lib-encodings.npy", client=client,
                          batch_size=100, block_size=300, quiet=True)
        z = np.load(out)
        labels, probs = cluster_encodings(work / "lib-cluster.onnx", out, client, batch_size=128, block_size=256)
        s = annotate_file(model, work / "sample.h5ad", output=work / "dask", client=client, block_size=400, quiet=True)
    assert z.shape == z1.shape == (1500, 6) and z.dtype == np.float32
    assert np.abs(z - z1).max() <= 1e-5
    assert (labels == l1).all() and np.abs(probs - p1).max() <= 1e-5
    t, t1 = (pd.read_csv(work / f"{p}-annotations.csv", index_col=0) for p in ("dask", "one"))
    assert (t.index == t1.index).all() and (t["label"] == t1["label"]).all()
    assert np.abs(t[["confidence", "reference_distance"]].to_numpy() - t1[["confidence", "reference_distance"]].to_numpy()).max() <= 1e-5
    assert {k: v for k, v in s.items() if k != "files"} == {k: v for k, v in s1.items() if k != "files"}


@pytest.mark.integration
def test_cli_workers(work):
    "`--workers 2` on encode, cluster and annotate writes the single-process files' contents under the same names."
    enc = work / "runs" / "t" / "model" / "encoder.onnx"
    r = cellvae("encode", enc, "sample.h5ad", "--batch-size", "100", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    z1 = np.load(work / "sample-encodings.npy")
    r = cellvae("train-clusters", "sample-encodings.npy", "cluster.onnx", "--min-cluster-size", "15", "--num-samples", "1000", cwd=work)
    assert r.returncode == 0, r.stderr
    r = cellvae("cluster", "cluster.onnx", "sample-encodings.npy", cwd=work)
    assert r.returncode == 0, r.stderr
    l1, p1 = np.load(work / "sample-cluster-labels.npy"), np.load(work / "sample-cluster-probabilities.npy")
    assert len(l1) == 1500  # fitted on 1,000 cells, every cell labelled
    r = cellvae("annotate", enc.parent, "sample.h5ad", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    a1 = pd.read_csv(work / "sample-annotations.csv", index_col=0)
    for f in ("sample-encodings.npy", "sample-cluster-labels.npy", "sample-cluster-probabilities.npy", "sample-annotations.csv"):
        (work / f).unlink()

    r = cellvae("encode", enc, "sample.h5ad", "--batch-size", "100", "--workers", "2", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "model genes found in the sample" in r.stderr  # the single-process path's messages
    z = np.load(work / "sample-encodings.npy")
    assert z.shape == z1.shape and np.abs(z - z1).max() <= 1e-5
    r = cellvae("encode", enc, "sample.h5ad", "--workers", "2", "--output", "z.zarr", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    import zarr
    assert np.abs(zarr.open_array(work / "z.zarr", mode="r")[:] - z1).max() <= 1e-5  # written by the workers
    r = cellvae("encode", enc, "sample.h5ad", "--output", "z2.zarr", "--quiet", cwd=work)
    assert r.returncode != 0 and "--workers" in r.stderr and "Traceback" not in r.stderr
    r = cellvae("cluster", "cluster.onnx", "sample-encodings.npy", "--workers", "2", cwd=work)
    assert r.returncode == 0, r.stderr
    assert (np.load(work / "sample-cluster-labels.npy") == l1).all()
    assert np.abs(np.load(work / "sample-cluster-probabilities.npy") - p1).max() <= 1e-5
    r = cellvae("annotate", enc.parent, "sample.h5ad", "--workers", "2", "--quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    a = pd.read_csv(work / "sample-annotations.csv", index_col=0)
    assert (a["label"] == a1["label"]).all() and np.abs(a["confidence"] - a1["confidence"]).max() <= 1e-5


@pytest.mark.integration
def test_cli_errors(work):
    "User mistakes with the Dask options are one line, naming the flags."
    enc = work / "runs" / "t" / "model" / "encoder.onnx"
    r = cellvae("encode", enc, "sample.h5ad", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1", cwd=work)
    assert r.returncode != 0 and "pass one of --scheduler" in r.stderr and "Traceback" not in r.stderr
    r = cellvae("encode", enc, "sample.h5ad", "--scheduler", "tcp://127.0.0.1:1", cwd=work)
    assert r.returncode != 0 and "no Dask scheduler answers" in r.stderr and "Traceback" not in r.stderr
