"""Training on two CPU processes with DistributedDataParallel (gloo), started by torchrun as a user would start it.

One run folder, written by rank 0 only; a validation loss within noise of one process's; resume works.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_reliability import CELLVAE, hidden_files, run_env

EPOCHS = 12
YAML = (f"model:\n  hidden_dims: [32]\n  latent_dim: 4\ntrain:\n  max_epochs: {EPOCHS}\n  patience: 1000\n"
        "  batch_size: 32\n  kl_warmup_epochs: 3\n  threads: 1\n  checkpoint_every: 3\ndata:\n  n_top_genes: 50\n")


def torchrun(*args, cwd, nproc=2):
    "`torchrun --standalone --nproc-per-node N -m cellvae ...`, with torch's own launcher module."
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "cellvae", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=run_env(), timeout=600)


def cellvae(*args, cwd):
    return subprocess.run([CELLVAE, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=run_env(), timeout=600)


def train_metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.fixture(scope="module")
def ddp_work(tmp_path_factory):
    "Data, a small config, one-process runs at seeds 0 and 1, and a 2-process run at seed 0."
    from cellvae.data import synthetic_counts
    d = tmp_path_factory.mktemp("ddp")
    synthetic_counts(n_cells=1200, n_genes=100, seed=0).write_h5ad(d / "train.h5ad")
    (d / "small.yaml").write_text(YAML)
    for seed in (0, 1):
        r = cellvae("train", "train.h5ad", "--config", "small.yaml", "-o", "runs", "--run-id", f"single{seed}", "--seed", seed, "-q", cwd=d)
        assert r.returncode == 0, r.stderr
    # batch_size is per process (DDP's convention): 2 x 16 cells make the one process's 32 cells a step
    r = torchrun("train", "train.h5ad", "--config", "small.yaml", "-o", "ddp", "--batch-size", 16, "-q", cwd=d)
    assert r.returncode == 0, r.stdout + r.stderr
    return d, r


@pytest.mark.integration
def test_ddp_writes_one_run(ddp_work):
    "Two processes make one run folder (its name, a timestamp, agreed by both), complete, with every file of a run."
    d, _ = ddp_work
    runs = list((d / "ddp").iterdir())
    assert len(runs) == 1, runs
    run = runs[0]
    m = train_metrics(run)
    assert m["status"] == "complete" and m["runtime"]["processes"] == 2
    assert m["train"]["epochs"] == EPOCHS
    for f in ("config.used.yaml", "model/model.pt", "model/encoder.onnx", "model/encoder.genes", "model/checkpoint.pt"):
        assert (run / f).is_file(), f
    assert hidden_files(d / "ddp") == []


@pytest.mark.integration
def test_ddp_validation_loss_within_noise(ddp_work):
    """The 2-process run's best validation loss is within noise of one process's: no further from the mean of seeds 0
    and 1 than 3x their difference, or 1% of the loss (with
    the same steps: 16 cells on each of 2 processes against 32 on one)."""
    d, _ = ddp_work
    single = [train_metrics(d / "runs" / f"single{s}")["train"]["best_val_loss"] for s in (0, 1)]
    ddp = train_metrics(next((d / "ddp").iterdir()))["train"]["best_val_loss"]
    mean, spread = sum(single) / 2, abs(single[0] - single[1])
    assert abs(ddp - mean) <= max(3 * spread, 0.01 * mean), (ddp, single)


@pytest.mark.integration
def test_ddp_resume(ddp_work):
    "Stopped after 6 epochs and resumed under torchrun, the run finishes all its epochs from the checkpoint."
    d, _ = ddp_work
    r = torchrun("train", "train.h5ad", "--config", "small.yaml", "-o", "ddp-resume", "--run-id", "part", "--max-epochs", 6, "-q", cwd=d)
    assert r.returncode == 0, r.stdout + r.stderr
    part = train_metrics(d / "ddp-resume" / "part")["train"]["history"]
    r = torchrun("train", "train.h5ad", "--config", "small.yaml", "-o", "ddp-resume", "--resume", "ddp-resume/part", "-q", cwd=d)
    assert r.returncode == 0, r.stdout + r.stderr
    m = train_metrics(d / "ddp-resume" / "part")
    assert m["status"] == "complete" and m["train"]["epochs"] == EPOCHS
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]
    assert strip(m["train"]["history"][:6]) == strip(part)
