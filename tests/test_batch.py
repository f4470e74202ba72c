"""A batch key: the batch enters the decoder only (scVI's default), so the latent is freed of the batch effect and the
exported encoder needs counts alone, for any batch, seen in training or not."""
import warnings

import numpy as np
import pytest
import torch

import cellvae
from cellvae.encode import encode
from cellvae.eval import batch_mixing


def _train(adata, batch_key, epochs, seed=0):
    torch.set_num_threads(1)
    model = cellvae.CellVAE(adata, batch_key=batch_key, hidden_dims=(64,), latent_dim=8, seed=seed)
    model.train(max_epochs=epochs, patience=epochs, progress=False)
    return model


def test_onnx_encoder_of_a_batch_model_needs_counts_alone(tmp_path):
    a = cellvae.synthetic_counts(n_cells=300, n_genes=80, n_batches=3, seed=0)
    model = _train(a, "batch", epochs=3)
    path = model.export_encoder(tmp_path / "encoder.onnx")
    z = encode(path, a, layer="counts", quiet=True)
    assert np.abs(z - model.get_latent()).max() <= 1e-4
    unseen = a.copy()
    unseen.obs["batch"] = "a batch the model never saw"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning about the unknown batch: the encoder does not read it
        assert np.abs(model.get_latent(unseen) - z).max() <= 1e-4


@pytest.mark.slow
def test_batch_key_mixes_batches_and_keeps_types():
    "A strong per-batch effect (each gene's mean scaled per batch): neighbours mix batches with the key, not without."
    a = cellvae.synthetic_counts(n_cells=800, n_genes=200, n_types=4, n_batches=2, batch_effect=0.5, seed=0)
    mixing = {}
    for key in (None, "batch"):
        z = _train(a, key, epochs=300).get_latent()
        mixing[key] = batch_mixing(z, a.obs["batch"], labels=a.obs["cell_type"], k=15)
    print({k: {m: round(v, 3) for m, v in d.items() if isinstance(v, float)} for k, d in mixing.items()})
    expected = mixing[None]["same_batch_expected"]  # about 0.5: two batches of equal size
    assert mixing[None]["same_batch_fraction"] > 0.95  # without the key each batch sits apart
    assert mixing["batch"]["same_batch_fraction"] < expected + 0.15  # with it, close to what random neighbours give
    assert mixing["batch"]["same_label_fraction"] > 0.95  # and cell types stay apart
