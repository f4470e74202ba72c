"""Prototype: quality.py with the encoder's input log-normalised to the training cells' median library over the
model's genes (scanpy's `normalize_total` without a target) instead of 10,000; the zinb decoder unchanged.

Not part of the library. Run from the repository root, with quality.py's arguments:

    python benchmarks/results/median_input_prototype.py --skip-baselines --threads 1 --name lognorm_median
"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
import quality
from cellvae.vae import CellVAE

_from_config = CellVAE.from_config.__func__

def from_config(cls, adata, cfg, **kw):
    model = _from_config(cls, adata, cfg, **kw)
    model.module.encoder.target_sum = float(np.median(np.asarray(model.model_counts(adata).sum(1)).ravel()))
    return model

CellVAE.from_config = classmethod(from_config)
if __name__ == "__main__":
    quality.main()
