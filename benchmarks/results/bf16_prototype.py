"""Prototype: training's matrix products in bfloat16 on the CPU (torch autocast; the likelihood, the optimizer's
master weights and validation's likelihood stay float32), issue #17 (speed) with #13's quality protocol. Not part of
the library.

Scores as quality.py: kNN / logreg F1-macro (k=15, 5-fold), Leiden ARI, cluster.onnx ARI; seeds 0-2, 1 thread.

    PYTHONPATH=. python benchmarks/results/bf16_prototype.py      # rows: quality-bf16-prototype-rows.jsonl
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import quality
import cellvae.vae as V

plain = V.train_vae

def train_vae(*args, **kw):
    "`train_vae` with autocast on, whatever the caller passed."
    return plain(*args, **{**kw, "autocast": True})
V.train_vae = train_vae

quality.prototype(dict(kind="bf16", arg=1))
