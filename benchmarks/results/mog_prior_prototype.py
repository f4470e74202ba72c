"""Prototype: a learnable mixture-of-Gaussians prior on the latent (issue #13, tenth round). Not part of the library.

The N(0, I) prior pulls every cell towards one blob; the latent loses the small populations and the close pairs
(`quality.md`, eighth round). Here the prior is a mixture of K diagonal Gaussians whose means, variances and weights
train with the model (as in a GMVAE or VaDE), so that the prior itself can hold separate groups. Its KL term has no
closed form: it is estimated at the posterior sample z, log q(z | x) - log p(z), in training and validation. The
encoder, the decoder and everything else are the default's. Scores as quality.py (seeds 0-2, 1 thread).

    PYTHONPATH=. python benchmarks/results/mog_prior_prototype.py 20   # K; rows: quality-mog_prior_K-prototype-rows.jsonl
"""
import math
import sys
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
import quality
import cellvae.model as M

K = int(sys.argv[1])
_init, _loss = M.VAE.__init__, M.VAE.loss


def init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    d = self.encoder.mean.out_features
    g = torch.Generator().manual_seed(0)  # the same prior start for every seed: the seed moves the model, not this
    self.prior_means = nn.Parameter(torch.randn(K, d, generator=g))
    self.prior_log_var = nn.Parameter(torch.zeros(K, d))
    self.prior_logits = nn.Parameter(torch.zeros(K))


def log_normal(z, m, v_log):
    "log N(z; m, exp(v_log)), summed over the last axis."
    return -0.5 * (math.log(2 * math.pi) + v_log + (z - m) ** 2 / v_log.exp()).sum(-1)


def mog_kl(self, inference_out):
    "log q(z | x) - log p(z) at the posterior sample, per cell."
    T = M.TensorKeys
    z, m, v = inference_out[T.Z], inference_out[T.QZ_M], inference_out[T.QZ_V]
    log_q = log_normal(z, m, v.log())
    comp = log_normal(z[:, None, :], self.prior_means[None], self.prior_log_var[None])  # [cells, K]
    log_p = torch.logsumexp(comp + torch.log_softmax(self.prior_logits, 0)[None], dim=1)
    return log_q - log_p


def loss(self, counts, inference_out, generative_out, kl_weight=1.0, nonzero=None, labels=None):
    out = _loss(self, counts, inference_out, generative_out, kl_weight, nonzero, labels)
    kl = mog_kl(self, inference_out)
    out.loss = out.loss + kl_weight * (kl - out.kl).mean()  # swap the N(0, I) term for the mixture's
    out.kl = kl
    return out


M.VAE.__init__, M.VAE.loss = init, loss
if __name__ == "__main__":
    rows = quality.prototype(dict(mog_prior=K))
    out = Path(__file__).parent / f"quality-mog_prior_{K}-prototype-rows.jsonl"
    out.write_text("".join(__import__("json").dumps(r) + "\n" for r in rows))
