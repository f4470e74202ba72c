"Real data: the default model on pbmc3k gives a latent space that annotates cell types (kNN F1-macro >= 0.90)."
import warnings

import pytest
import torch

from cellvae.data import preprocess, read_counts
from cellvae.eval import annotation_scores
from cellvae.settings import load_config
from cellvae.vae import CellVAE


@pytest.mark.slow
def test_default_model_knn_f1(pbmc3k_path, clean_env):
    torch.set_num_threads(1)
    cfg = load_config(env={}, profile=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hvg = preprocess(read_counts(pbmc3k_path), n_top_genes=cfg.data.n_top_genes)
    model = CellVAE.from_config(hvg, cfg, labels_key="cell_type")
    model.train_from_config(cfg, progress=False)
    s = annotation_scores(model.get_latent(), hvg.obs["cell_type"].astype(str).to_numpy(), method="knn", k=15, cv=5, seed=0)
    print(f"pbmc3k default model: kNN (k=15, 5-fold) F1-macro {s['f1_macro']:.4f}, accuracy {s['accuracy']:.4f}")
    assert s["f1_macro"] >= 0.90
