"""Speed of the count likelihood: the loss of one mini-batch with its backward pass, in milliseconds.

Not a test: it prints figures. Run from the repository root:

    python benchmarks/loss_speed.py                # 256 x 2,000 batches at 9.5% (pbmc3k's HVGs) and 43% non-zero
    python benchmarks/loss_speed.py --threads 1

For NB and ZINB it times `count_log_likelihood` (one autograd Function, derivatives written out) given the
batch's non-zero entries, as training gives them, and finding them itself, against autograd on the
elementwise reference (`log_nb_positive` / `log_zinb_positive`, scVI's formulas, summed over genes). Each
row includes the softmax and library scaling before the likelihood, as in the decoder.
"""
import argparse
import time

import numpy as np
import torch

from cellvae.model import count_log_likelihood, log_nb_positive, log_zinb_positive


def median_ms(f, n: int) -> float:
    for _ in range(5): f()
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return 1000 * float(np.median(ts))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--cells", type=int, default=256)
    ap.add_argument("--genes", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)  # as training runs
    torch.manual_seed(0)
    b, g = args.cells, args.genes
    for density in (0.095, 0.43):
        x = ((torch.rand(b, g) < density) * torch.poisson(torch.full((b, g), 2.0)).clamp(min=1)).float()
        nz = torch.nonzero(x, as_tuple=True)
        logits = torch.randn(b, g, requires_grad=True)
        log_theta = torch.randn(g, requires_grad=True)
        pi = torch.randn(b, g, requires_grad=True)
        library = torch.log(x.sum(-1, keepdim=True).clamp(min=1))
        for lik in ("nb", "zinb"):
            p = pi if lik == "zinb" else None
            def run(ll):
                mu = torch.exp(library) * torch.softmax(logits, -1)
                (-ll(mu, torch.exp(log_theta))).mean().backward()
            ref = (lambda mu, th: log_zinb_positive(x, mu, th, p).sum(-1)) if p is not None else (
                   lambda mu, th: log_nb_positive(x, mu, th).sum(-1))
            rows = {"elementwise, autograd": median_ms(lambda: run(ref), args.repeats),
                    "count_log_likelihood": median_ms(lambda: run(lambda mu, th: count_log_likelihood(x, mu, th, p)), args.repeats),
                    "count_log_likelihood, non-zero entries given": median_ms(
                        lambda: run(lambda mu, th: count_log_likelihood(x, mu, th, p, nonzero=nz)), args.repeats)}
            print(f"{lik:4s} {b} x {g}, {density:.1%} non-zero: " + " | ".join(f"{k} {v:.1f} ms" for k, v in rows.items()))
    print(f"torch {torch.__version__}, threads {args.threads}, median of {args.repeats}")


if __name__ == "__main__":
    main()
