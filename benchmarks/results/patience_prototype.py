"""Prototype: how much early-stopping patience large data needs (issue #17). Not part of the library.

One training per dataset and seed with the default patience (10 epochs); every smaller patience P is read off the same
run, as training is deterministic: a run with patience P is this run up to the epoch where P epochs have passed
without a new best, and its model is the best one so far at that point (captured then). Each is scored by kNN and
logreg F1-macro (k=15, 5-fold) on all cells; training seconds are the epochs' own up to the stop.

    PYTHONPATH=. python benchmarks/results/patience_prototype.py synthetic20k 0   # dataset, seed; rows: patience-large-rows.jsonl

Datasets: synthetic20k (`synthetic.realistic_counts(20_000)`, 8 types) and atlas20k (`cellvae.synthetic_atlas(n_cells=
20_000, seed=100)`, 16 types in lineages).
"""
import sys, json, copy, math
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch, quality, cellvae, cellvae.train as T
from synthetic import realistic_counts
name, seed = sys.argv[1], int(sys.argv[2]); PATIENCES = (3, 4, 5, 6, 7, 8)
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
S = {"val": [], "best": None, "snap": {}}
plain_deepcopy = copy.deepcopy
class _Copy:  # train_vae's copy.deepcopy of the best state, observed
    @staticmethod
    def deepcopy(x, memo=None):
        out = plain_deepcopy(x, memo); S["best"] = out; return out
T.copy = _Copy
orig_val = T.validation_loss
def stopped(P, vals, warmup=20):
    "Would patience P have stopped before the next epoch, given these validation losses?"
    best, bad = math.inf, 0
    for e, v in enumerate(vals):
        if bad >= P: return True
        if e == warmup: best = math.inf
        if v < best: best, bad = v, 0
        elif e >= warmup: bad += 1
    return bad >= P
def validation_loss(module, data, device="cpu", autocast=False):
    for P in PATIENCES:  # the best state so far is the model a run with patience P would keep, if it stops now
        if P not in S["snap"] and stopped(P, S["val"]): S["snap"][P] = (len(S["val"]), S["best"])
    r = orig_val(module, data, device, autocast); S["val"].append(r["loss"]); return r
T.validation_loss = validation_loss
raw = realistic_counts(20_000, seed=0) if name == "synthetic20k" else cellvae.synthetic_atlas(n_cells=20_000, seed=100)
y = raw.obs["cell_type"].astype(str).to_numpy()
torch.set_num_threads(threads)
cfg, adata, z, hist, secs = quality.train_latent(raw, seed)
model_secs = [h["seconds"] for h in hist.history]
rows = [dict(dataset=name, seed=seed, patience=10, epochs=hist.epochs, train_s=round(sum(model_secs), 1),
             **quality.scores(z, y, seed))]
for P, (epochs, state) in sorted(S["snap"].items()):
    m = cellvae.CellVAE.from_config(adata, cfg, labels_key="cell_type")
    m.module.load_state_dict(state); m.module.eval()
    rows.append(dict(dataset=name, seed=seed, patience=P, epochs=epochs, train_s=round(sum(model_secs[:epochs]), 1),
                     **quality.scores(m.get_latent(), y, seed)))
for r in rows: print(json.dumps(r), flush=True)
