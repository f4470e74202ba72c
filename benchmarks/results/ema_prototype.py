"""Prototype: an exponential moving average of the weights, or a learning rate halved on plateaus (issue #13, ninth
round). Not part of the library.

- `ema H`: after each Adam step, an average of the parameters with a horizon of H epochs (decay 1 - 1/(H x steps per
  epoch)) is updated; validation, early stopping and the kept best weights use the average (BatchNorm's running
  statistics are the live model's).
- `plateau P`: the learning rate halves after P epochs at KL weight 1 without a new best validation loss (scvi-tools'
  `reduce_lr_on_plateau` with factor 0.5), at most 3 times.
Scores as quality.py: kNN / logreg F1-macro (k=15, 5-fold), Leiden ARI, cluster.onnx ARI; seeds 0-2, 1 thread.

    PYTHONPATH=. python benchmarks/results/ema_prototype.py ema 2      # rows: quality-ema_2-prototype-rows.jsonl
"""
import sys, math, torch
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import quality, cellvae.train as T
kind, arg = sys.argv[1], float(sys.argv[2])
S = {}

class Adam(torch.optim.Adam):
    "Adam that keeps the moving average of its parameters (kind ema)."
    def __init__(self, params, **kw):
        params = list(params); super().__init__(params, **kw)
        S.update(opt=self, params=params, ema=None, steps=0, epoch_steps=None, pending=None, best=math.inf, bad=0, cuts=0)
    @torch.no_grad()
    def step(self, closure=None):
        out = super().step(closure); S["steps"] += 1
        if kind == "ema":
            if S["ema"] is None: S["ema"] = [p.detach().clone() for p in S["params"]]
            else:
                n = S["epoch_steps"] or S["steps"]  # steps per epoch, known after the first epoch
                torch._foreach_lerp_(S["ema"], [p.detach() for p in S["params"]], 1.0 / (arg * n))
        return out
T.torch.optim.Adam = Adam

orig_val = T.validation_loss
def validation_loss(module, data, device="cpu", autocast=False):
    if S.get("epoch_steps") is None: S["epoch_steps"] = S["steps"]
    if kind == "ema" and S["ema"] is not None:
        with torch.no_grad():
            live = [p.detach().clone() for p in S["params"]]
            torch._foreach_copy_([p.data for p in S["params"]], S["ema"])
        r = orig_val(module, data, device, autocast)
        S["pending"] = live  # restored when training resumes (module.train())
        if not getattr(module, "_ema_patched", False):
            plain = module.train
            def train(mode=True):
                if mode and S["pending"] is not None:
                    with torch.no_grad(): torch._foreach_copy_([p.data for p in S["params"]], S["pending"])
                    S["pending"] = None
                return plain(mode)
            module.train, module._ema_patched = train, True
        return r
    r = orig_val(module, data, device, autocast)
    if kind == "plateau" and S["steps"] // max(S["epoch_steps"], 1) > 20:  # after the KL warm-up
        if r["loss"] < S["best"]: S["best"], S["bad"] = r["loss"], 0
        else:
            S["bad"] += 1
            if S["bad"] >= arg and S["cuts"] < 3:
                for g in S["opt"].param_groups: g["lr"] *= 0.5
                S["bad"], S["cuts"] = 0, S["cuts"] + 1
    return r
T.validation_loss = validation_loss

quality.prototype(dict(kind=kind, arg=arg))
