"""Prototype: quality.py with the encoder's input scaled as sc.pp.scale does (each HVG's log-normalised values
z-scored over the cells, clipped at 10), the zinb decoder unchanged. Stats from the training data's HVG counts.

Not part of the library. Run from the repository root, with quality.py's arguments:

    python benchmarks/results/scaled_input_prototype.py --skip-baselines --threads 1 --name scaled_input
"""
import sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
import quality
import cellvae.model as M
from cellvae.vae import CellVAE

STATS = {}
_lognorm = M.log_normalize

def scaled(counts, target_sum=1e4):
    x = _lognorm(counts, target_sum)
    return ((x - STATS["mean"]) / STATS["std"]).clamp(max=10)

M.log_normalize = scaled
_from_config = CellVAE.from_config.__func__

def from_config(cls, adata, cfg, **kw):
    hvg = adata.var["highly_variable"].to_numpy()
    X = adata.layers["counts"][:, hvg]
    X = torch.from_numpy(np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32))
    x = _lognorm(X, cfg.data.target_sum)
    STATS["mean"] = x.mean(0)
    STATS["std"] = x.std(0, correction=1).clamp(min=1e-12)  # sc.pp.scale: ddof 1; constant genes stay 0
    return _from_config(cls, adata, cfg, **kw)

CellVAE.from_config = classmethod(from_config)
if __name__ == "__main__":
    quality.main()
