"Real data: the default model on pbmc3k gives a latent space that annotates cell types (kNN F1-macro >= 0.90)."
import pytest

from cellvae.eval import annotation_scores


@pytest.mark.slow
def test_default_model_knn_f1(pbmc3k_model):
    adata, model = pbmc3k_model
    s = annotation_scores(model.get_latent(), adata.obs["cell_type"].astype(str).to_numpy(), method="knn", k=15, cv=5, seed=0)
    print(f"pbmc3k default model: kNN (k=15, 5-fold) F1-macro {s['f1_macro']:.4f}, accuracy {s['accuracy']:.4f}")
    assert s["f1_macro"] >= 0.90
