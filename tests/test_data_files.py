"Reading counts: every bad file or bad value gets one InputError naming the file and what is wrong."
import numpy as np
import pytest
import scipy.sparse as sp

from cellvae.core import InputError
from cellvae.data import pbmc68k, read_counts, read_h5ad, synthetic_counts


@pytest.fixture
def good(tmp_path):
    p = tmp_path / "good.h5ad"
    synthetic_counts(n_cells=50, n_genes=40, seed=0).write_h5ad(p)
    return p


def test_reads_counts_into_a_layer(good):
    a = read_counts(good)
    assert a.shape == (50, 40) and sp.isspmatrix_csr(a.layers["counts"]) and a.layers["counts"].dtype == np.float32


def _file(d, name, content):
    (d / name).write_bytes(content)
    return d / name


@pytest.mark.parametrize("make,msg", [
    (lambda d: d / "missing.h5ad", "file not found"),
    (lambda d: d, "is a directory"),
    (lambda d: _file(d, "empty.h5ad", b""), "the file is empty"),
    (lambda d: _file(d, "text.h5ad", b"cell,gene\n1,2\n"), "not an HDF5 file"),
])
def test_bad_files(tmp_path, make, msg):
    p = make(tmp_path)
    with pytest.raises(InputError, match=msg) as e:
        read_counts(p)
    assert str(p) in str(e.value)


def test_truncated_file(good, tmp_path):
    data = good.read_bytes()
    half = tmp_path / "half.h5ad"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_h5ad(half)


def _write(tmp_path, X, name="bad.h5ad", layers=None):
    import anndata as ad
    a = ad.AnnData(X=X)
    for k, v in (layers or {}).items():
        a.layers[k] = v
    p = tmp_path / name
    a.write_h5ad(p)
    return p


@pytest.mark.parametrize("value,what", [(np.nan, "1 NaN or infinite"), (-1.0, "1 negative"), (0.5, "1 non-integer")])
def test_bad_counts_name_the_count_and_suggest_the_layer(tmp_path, value, what):
    counts = np.ones((5, 4), np.float32)
    X = counts.copy(); X[2, 1] = value
    p = _write(tmp_path, X, layers={"counts": counts})
    with pytest.raises(InputError) as e:
        read_counts(p)
    msg = str(e.value)
    assert str(p) in msg and what in msg and "`layer='counts'`" in msg
    assert read_counts(p, layer="counts").shape == (5, 4)


def test_missing_layer_lists_layers(tmp_path):
    p = _write(tmp_path, np.ones((3, 2), np.float32), layers={"raw": np.ones((3, 2), np.float32)})
    with pytest.raises(InputError, match=r"no layer `counts` \(layers: raw\)"):
        read_counts(p, layer="counts")


def test_zero_cells_zero_genes_duplicates(tmp_path):
    import anndata as ad
    with pytest.raises(InputError, match="0 cells"):
        read_counts(_write(tmp_path, np.zeros((0, 3), np.float32), "c0.h5ad"))
    with pytest.raises(InputError, match="0 genes"):
        read_counts(_write(tmp_path, np.zeros((3, 0), np.float32), "g0.h5ad"))
    a = ad.AnnData(X=np.ones((2, 3), np.float32))
    a.var_names = ["A", "B", "A"]
    p = tmp_path / "dup.h5ad"
    a.write_h5ad(p)
    with pytest.raises(InputError, match=r"1 duplicate gene names in var_names \(e.g. A\)"):
        read_counts(p)


def test_pbmc68k_counts_recovered():
    a = pbmc68k()
    X = a.layers["counts"]
    assert np.all(X.data == np.round(X.data)) and X.data.min() >= 1
    assert a.obs["cell_type"].value_counts().max() == 240


@pytest.mark.slow
def test_reads_pbmc3k(pbmc3k_path):
    a = read_counts(pbmc3k_path)
    assert a.shape == (2638, 32738)
    assert a.layers["counts"].nnz == 2242529
    assert a.obs["cell_type"].nunique() == 8
