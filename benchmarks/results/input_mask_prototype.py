"""Prototype: the encoder's input masked during training, as in a denoising autoencoder (issue #13, eleventh round).
Not part of the library.

In training mode each cell's log-normalised input loses each gene's value with probability P (`F.dropout`, the kept
values scaled by 1 / (1 - P)); the decoder still reconstructs every count, so the encoder must infer a gene from the
genes that co-vary with it. Validation, the latent and the exports see the whole input. Scores as quality.py: kNN /
logreg F1-macro (k=15, 5-fold), Leiden ARI, cluster.onnx ARI; seeds 0-2, 1 thread.

    PYTHONPATH=. python benchmarks/results/input_mask_prototype.py 0.2   # rows: quality-input_mask_0.2-prototype-rows.jsonl
"""
import sys
from pathlib import Path
import torch
import torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import quality
import cellvae.model as M
rate = float(sys.argv[1])

def forward(self, counts):
    x = torch.log1p(counts) if self.input_transform == "log1p" else M.log_normalize(counts, self.target_sum)
    if self.training and rate > 0: x = F.dropout(x, rate)
    h = self.mlp(x)
    return self.mean(h).float(), torch.exp(self.log_var(h).float()) + self.var_eps
M.Encoder.forward = forward

quality.prototype(dict(kind="input_mask", arg=rate))
