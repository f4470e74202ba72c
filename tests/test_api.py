"One Python API: `import cellvae` gives it (lazily), its defaults are the config's, and no private name crosses modules."
import ast
import subprocess
import sys

import pytest

from conftest import ROOT

PUBLIC = {"CellVAE", "read_counts", "preprocess", "load_dataset", "encode_adata", "cluster_adata", "transfer_labels_adata",
          "score_representation", "load_config"}


def test_import_cellvae_gives_the_api_without_loading_torch():
    "A fresh process: the names are listed without loading torch (each loads its module on first use, tested below)."
    code = "import sys, cellvae; assert 'torch' not in sys.modules, 'import cellvae loaded torch'; print(' '.join(cellvae.__all__))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert PUBLIC <= set(r.stdout.split())


def test_star_import_and_unknown_names():
    import cellvae
    ns = {}
    exec("from cellvae import *", ns)
    assert PUBLIC <= set(ns) and all(callable(ns[n]) for n in PUBLIC)
    with pytest.raises(AttributeError, match="no attribute 'nope'"): cellvae.nope


def test_python_defaults_are_the_config():
    import inspect
    import cellvae
    from cellvae.model import VAE
    from cellvae.train import train_vae
    cfg = cellvae.load_config(env={}, profile=False)
    init = inspect.signature(cellvae.CellVAE).parameters
    for k in ("latent_dim", "dropout", "norm", "likelihood", "input_transform"):
        assert init[k].default == getattr(cfg.model, k) == inspect.signature(VAE).parameters[k].default, k
    assert list(init["hidden_dims"].default) == cfg.model.hidden_dims
    train = inspect.signature(cellvae.CellVAE.train).parameters
    for k in ("max_epochs", "batch_size", "learning_rate", "weight_decay", "patience", "kl_warmup_epochs"):
        assert train[k].default == getattr(cfg.train, k), k
    for k in ("max_epochs", "learning_rate", "weight_decay", "patience", "kl_warmup_epochs"):
        assert inspect.signature(train_vae).parameters[k].default == getattr(cfg.train, k), k
    assert inspect.signature(cellvae.preprocess).parameters["n_top_genes"].default == cfg.data.n_top_genes


def _private_imports(path):
    "Names starting with `_` that `path` imports from another cellvae module."
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("cellvae")):
            yield from (f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_") and a.name != "__version__")


def test_no_private_name_crosses_modules():
    found = {p.name: list(_private_imports(p)) for p in sorted((ROOT / "cellvae").glob("*.py")) if p.name != "_modidx.py"}
    assert {k: v for k, v in found.items() if v} == {}
