"""Reliability: interrupted commands, resumed training, full disks and determinism.

The command line is run as users run it (the installed console script, in a fresh folder, with no CELLVAE_*,
DATA_ROOT, EXPERIMENT_ROOT or ASSET_IMAGES_DIR in its environment). A full disk is simulated in a subprocess by
a real file-size limit (RLIMIT_FSIZE: writes past it fail with EFBIG) or by a `sitecustomize.py` on PYTHONPATH
that patches numpy.save (see `SITECUSTOMIZE`), and in-process with monkeypatch. The quick tests at the top run
by default; the rest are marked `integration` (subprocesses) or `slow` (ONNX exports in-process).
"""
import errno
import io
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cellvae.core import CellvaeError, save_npy, write_json

CELLVAE = str(Path(sys.executable).parent / "cellvae")
_USER_VARS = ("DATA_ROOT", "EXPERIMENT_ROOT", "ASSET_IMAGES_DIR")


def run_env(**extra) -> dict:
    "The caller's environment without cellvae's variables, plus `extra`."
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELLVAE_") and k not in _USER_VARS}
    return {**env, **extra}


def cellvae(*args, cwd, env=None, timeout=900, max_file_size=None) -> subprocess.CompletedProcess:
    "Run the console script; `max_file_size` (bytes) makes every larger write fail as on a full disk (EFBIG)."
    return subprocess.run([CELLVAE, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=run_env() if env is None else env, timeout=timeout,
                          preexec_fn=None if max_file_size is None else lambda: _limit_file_size(max_file_size))


def _limit_file_size(n: int):
    import resource
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))


def popen(*args, cwd, stderr_path: Path, env=None) -> subprocess.Popen:
    "Start the console script with stderr to a file, and Ctrl-C handled as in a terminal (not ignored, as in a background job)."
    with stderr_path.open("w") as err:
        return subprocess.Popen([CELLVAE, *map(str, args)], cwd=cwd, env=run_env() if env is None else env,
                                stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 120, every: float = 0.01):
    "Poll until `condition()` holds; fail if the process ends first or `timeout` passes."
    t0 = time.monotonic()
    while not condition():
        if proc.poll() is not None: pytest.fail(f"the command ended (exit {proc.returncode}) before {what}")
        if time.monotonic() - t0 > timeout:
            proc.kill(); pytest.fail(f"no {what} after {timeout} s")
        time.sleep(every)


def hidden_files(folder: Path) -> list[str]:
    "Hidden names under `folder`: cellvae's temporary files are `.<stem>.<hex>.tmp<suffix>`."
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def error_lines(stderr: str) -> list[str]:
    return [l for l in stderr.splitlines() if l.strip()]


def enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def assert_failed_cleanly(exc: BaseException, folder: Path, final: Path, previous: bytes | None):
    "The error is the disk's (or a CellvaeError), no file under the final name unless the previous one, untouched, and no temporary."
    assert isinstance(exc, CellvaeError) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC), repr(exc)
    if previous is None: assert not final.exists()
    else: assert final.read_bytes() == previous
    assert hidden_files(folder) == []


# A full disk and a slow disk inside a subprocess: numpy.save is patched at start-up.
SITECUSTOMIZE = '''
import errno, io, os, time
_fault = os.environ.get("RELIABILITY_FAULT")

def _half(data, file):
    f = open(file, "wb") if isinstance(file, (str, os.PathLike)) else file
    f.write(data[: len(data) // 2]); f.flush()

if _fault in ("npy-enospc", "npy-hang"):
    import numpy as np
    _save = np.save
    def _faulty_save(file, arr, *args, **kwargs):
        buf = io.BytesIO(); _save(buf, arr, *args, **kwargs)
        _half(buf.getvalue(), file)
        if _fault == "npy-hang": time.sleep(120)  # half written; the test interrupts us here
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    np.save = _faulty_save
'''


@pytest.fixture(scope="module")
def fault_env(tmp_path_factory):
    "An environment for `cellvae` whose sitecustomize injects the fault named by `RELIABILITY_FAULT`."
    d = tmp_path_factory.mktemp("site")
    (d / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return lambda fault: run_env(PYTHONPATH=str(d), RELIABILITY_FAULT=fault)


# ------------------------------------------------------------------------------------------------------------
# A full disk, in-process (default run)

PREVIOUS = [None, b"the previous, complete file"]


@pytest.mark.parametrize("previous", PREVIOUS, ids=["new", "replace"])
def test_save_npy_on_a_full_disk(tmp_path, monkeypatch, previous):
    final = tmp_path / "x-encodings.npy"
    if previous is not None: final.write_bytes(previous)
    real = np.save
    def half_then_full(file, arr, *args, **kwargs):
        buf = io.BytesIO(); real(buf, arr, *args, **kwargs)
        file.write(buf.getvalue()[:40]); file.flush()
        raise enospc()
    monkeypatch.setattr(np, "save", half_then_full)
    with pytest.raises((OSError, CellvaeError)) as e:
        save_npy(final, np.ones((100, 4), np.float32))
    assert_failed_cleanly(e.value, tmp_path, final, previous)


@pytest.mark.parametrize("previous", PREVIOUS, ids=["new", "replace"])
def test_write_json_on_a_full_disk(tmp_path, monkeypatch, previous):
    final = tmp_path / "metrics.json"
    if previous is not None: final.write_bytes(previous)
    real = pathlib.Path.write_text
    def half_then_full(self, data, *args, **kwargs):
        real(self, data[: len(data) // 2], *args, **kwargs)
        raise enospc()
    monkeypatch.setattr(pathlib.Path, "write_text", half_then_full)
    with pytest.raises((OSError, CellvaeError)) as e:
        write_json(final, {"train": {"history": list(range(50))}})
    assert_failed_cleanly(e.value, tmp_path, final, previous)


@pytest.mark.parametrize("previous", PREVIOUS, ids=["new", "replace"])
def test_checkpoint_on_a_full_disk(tmp_path, monkeypatch, previous):
    import torch
    from cellvae.train import save_checkpoint
    final = tmp_path / "checkpoint.pt"
    if previous is not None: final.write_bytes(previous)
    real = torch.save
    def half_then_full(obj, f, *args, **kwargs):
        buf = io.BytesIO(); real(obj, buf)
        half = buf.getvalue()[: len(buf.getvalue()) // 2]
        if hasattr(f, "write"): f.write(half)  # save_checkpoint passes a file object
        else: Path(f).write_bytes(half)
        raise enospc()
    monkeypatch.setattr(torch, "save", half_then_full)
    with pytest.raises((OSError, CellvaeError)) as e:
        save_checkpoint(final, {"epoch": 3, "module": {"w": torch.ones(64, 64)}})
    assert_failed_cleanly(e.value, tmp_path, final, previous)


def test_failed_rename_leaves_the_previous_file(tmp_path, monkeypatch):
    "The last step of an atomic write, the rename, failing (an I/O error) removes the complete temporary file."
    final = tmp_path / "x.npy"
    final.write_bytes(b"previous")
    def broken_replace(src, dst): raise OSError(errno.EIO, os.strerror(errno.EIO))
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="Input/output error"):
        save_npy(final, np.zeros(3))
    assert final.read_bytes() == b"previous" and hidden_files(tmp_path) == []


# ------------------------------------------------------------------------------------------------------------
# A full disk while exporting ONNX files, in-process (slow: each export runs torch's exporter)

@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    "A tiny VAE and a complete earlier export of it (encoder.onnx and encoder.genes with genes a0..a5)."
    import torch
    from cellvae.model import VAE, export_encoder
    torch.manual_seed(0)
    vae = VAE(6, hidden_dims=(4,), latent_dim=2).eval()
    d = tmp_path_factory.mktemp("export")
    export_encoder(vae, d / "encoder.onnx", genes=[f"a{j}" for j in range(6)])
    return vae, d


def _previous_export(exported, tmp_path) -> dict:
    for name in ("encoder.onnx", "encoder.genes"): shutil.copy(exported[1] / name, tmp_path / name)
    return {name: (tmp_path / name).read_bytes() for name in ("encoder.onnx", "encoder.genes")}


def _fail_after_half(real_save):
    def half_then_full(proto, f, *args, **kwargs):
        real_save(proto, f, *args, **kwargs)
        with open(f, "r+b") as fh: fh.truncate(os.path.getsize(f) // 2)
        raise enospc()
    return half_then_full


@pytest.mark.slow
def test_export_encoder_on_a_full_disk(exported, tmp_path, monkeypatch):
    import onnx
    from cellvae.model import export_encoder
    before = _previous_export(exported, tmp_path)
    monkeypatch.setattr(onnx, "save_model", _fail_after_half(onnx.save_model))
    with pytest.raises((OSError, CellvaeError)) as e:
        export_encoder(exported[0], tmp_path / "encoder.onnx", genes=[f"b{j}" for j in range(6)])
    assert_failed_cleanly(e.value, tmp_path, tmp_path / "encoder.onnx", before["encoder.onnx"])
    assert (tmp_path / "encoder.genes").read_bytes() == before["encoder.genes"]


@pytest.mark.slow
def test_export_encoder_genes_on_a_full_disk(exported, tmp_path, monkeypatch):
    from cellvae.model import export_encoder
    before = _previous_export(exported, tmp_path)
    real = pathlib.Path.write_text
    def half_then_full(self, data, *args, **kwargs):
        real(self, data[: len(data) // 2], *args, **kwargs); raise enospc()
    monkeypatch.setattr(pathlib.Path, "write_text", half_then_full)
    with pytest.raises((OSError, CellvaeError)) as e:
        export_encoder(exported[0], tmp_path / "encoder.onnx", genes=[f"b{j}" for j in range(6)])
    assert_failed_cleanly(e.value, tmp_path, tmp_path / "encoder.genes", before["encoder.genes"])
    assert (tmp_path / "encoder.onnx").read_bytes() == before["encoder.onnx"]


@pytest.mark.slow
def test_failed_encoder_export_leaves_a_matching_pair(exported, tmp_path, monkeypatch):
    from cellvae.data import read_genes
    from cellvae.encode import open_encoder
    from cellvae.model import export_encoder
    before = _previous_export(exported, tmp_path)
    real = os.replace
    def rename(src, dst):
        if Path(dst).name == "encoder.onnx": raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(src, dst)
    monkeypatch.setattr(os, "replace", rename)
    with pytest.raises(OSError):
        export_encoder(exported[0], tmp_path / "encoder.onnx", genes=[f"b{j}" for j in range(6)])
    monkeypatch.undo()
    assert (tmp_path / "encoder.onnx").read_bytes() == before["encoder.onnx"] and hidden_files(tmp_path) == []
    try: enc = open_encoder(tmp_path / "encoder.onnx")
    except CellvaeError: return  # the mismatched pair is refused: good enough
    assert enc.genes == read_genes(exported[1] / "encoder.genes"), "the old encoder now carries the new gene list"


@pytest.mark.slow
@pytest.mark.parametrize("previous", PREVIOUS, ids=["new", "replace"])
def test_export_cluster_model_on_a_full_disk(tmp_path, monkeypatch, previous):
    import onnx
    from cellvae.cluster import export_cluster_model, fit_clusters
    x = (np.random.default_rng(0).normal(size=(60, 2)) + np.repeat([[0, 0], [8, 8]], 30, axis=0)).astype(np.float32)
    fit = fit_clusters(x, min_cluster_size=5, min_samples=3)
    final = tmp_path / "cluster.onnx"
    if previous is not None: final.write_bytes(previous)
    monkeypatch.setattr(onnx, "save_model", _fail_after_half(onnx.save_model))
    with pytest.raises((OSError, CellvaeError)) as e:
        export_cluster_model(fit, final)
    assert_failed_cleanly(e.value, tmp_path, final, previous)


# ------------------------------------------------------------------------------------------------------------
# Command-line fixtures: a real encoder.onnx, a sample too large to encode in a few seconds, and a small one

N_BIG, N_GENES = 100_000, 50


def _sample(n_cells: int, genes: list[str], seed: int):
    "CSR counts with 5 stored values per cell, written fast (no synthetic model needed to measure speed)."
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp
    rng = np.random.default_rng(seed)
    cols = np.tile(np.arange(0, N_GENES, N_GENES // 5), n_cells)
    X = sp.csr_matrix((rng.integers(1, 6, 5 * n_cells).astype(np.float32), cols, np.arange(0, 5 * n_cells + 1, 5)),
                      shape=(n_cells, N_GENES))
    return ad.AnnData(X=X, var=pd.DataFrame(index=genes))


@pytest.fixture(scope="module")
def encode_work(tmp_path_factory):
    import torch
    from cellvae.model import VAE, export_encoder
    d = tmp_path_factory.mktemp("encode")
    genes = [f"g{j}" for j in range(N_GENES)]
    torch.manual_seed(0)
    export_encoder(VAE(N_GENES, hidden_dims=(16,), latent_dim=4).eval(), d / "encoder.onnx", genes=genes)
    _sample(N_BIG, genes, 0).write_h5ad(d / "big.h5ad")   # ~8 MB; `cellvae encode` takes >10 s on it
    _sample(500, genes, 1).write_h5ad(d / "small.h5ad")
    return d


def _fresh(encode_work: Path, tmp_path: Path, *names) -> Path:
    "A new folder holding the encoder and the named samples (hard links: the big sample is not copied)."
    for f in ("encoder.onnx", "encoder.genes", *names):
        try: os.link(encode_work / f, tmp_path / f)
        except OSError: shutil.copy(encode_work / f, tmp_path / f)
    return tmp_path


SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]


@pytest.mark.integration
@pytest.mark.parametrize("sig", SIGNALS)
def test_interrupt_mid_encode(encode_work, tmp_path, sig):
    "Ctrl-C or SIGTERM while cells are being encoded: exit 130, one message, no encodings file, no temporary."
    d = _fresh(encode_work, tmp_path, "big.h5ad")
    err = d / "stderr.txt"
    p = popen("encode", "encoder.onnx", "big.h5ad", "--batch-size", "32", cwd=d, stderr_path=err)
    wait_for(lambda: "model genes found" in err.read_text(), p, "gene overlap line (printed just before encoding)")
    time.sleep(0.5)  # part-way: encoding all cells takes over 10 s here
    p.send_signal(sig)
    rc = p.wait(timeout=60)
    stderr = err.read_text()
    assert rc == 130, stderr
    assert "Interrupted" in stderr and "Traceback" not in stderr
    done = re.findall(rf"(\d+)/{N_BIG}", stderr)  # the progress bar's last state, if it drew one
    assert all(int(n) < N_BIG for n in done), done
    assert not (d / "big-encodings.npy").exists()
    assert hidden_files(d) == []


@pytest.mark.integration
@pytest.mark.parametrize("sig", SIGNALS)
def test_interrupt_while_writing_encodings(encode_work, tmp_path, fault_env, sig):
    "Interrupted half-way through writing: the temporary file goes, a previous encodings file stays as it was."
    d = _fresh(encode_work, tmp_path, "small.h5ad")
    (d / "small-encodings.npy").write_bytes(b"previous encodings")
    err = d / "stderr.txt"
    p = popen("encode", "encoder.onnx", "small.h5ad", "-q", cwd=d, stderr_path=err, env=fault_env("npy-hang"))
    wait_for(lambda: any(f.stat().st_size for f in d.glob(".small-encodings.*.tmp.npy")), p, "half-written temporary file")
    p.send_signal(sig)
    rc = p.wait(timeout=60)
    stderr = err.read_text()
    assert rc == 130, stderr
    assert "Interrupted" in stderr and "Traceback" not in stderr
    assert (d / "small-encodings.npy").read_bytes() == b"previous encodings"
    assert hidden_files(d) == []


DISK_FULL = [pytest.param("npy-enospc", id="ENOSPC"), pytest.param("file-size-limit", id="EFBIG")]


@pytest.fixture(scope="module", params=[p.values[0] for p in DISK_FULL], ids=[p.id for p in DISK_FULL])
def encode_disk_full(request, encode_work, tmp_path_factory, fault_env):
    """`cellvae encode` over a previous encodings file, on a disk that fills while the encodings are written:
    numpy.save patched to write half and raise ENOSPC, or a real 4 kB file-size limit (the encodings take 8 kB)."""
    d = _fresh(encode_work, tmp_path_factory.mktemp("full"), "small.h5ad")
    (d / "small-encodings.npy").write_bytes(b"previous encodings")
    if request.param == "npy-enospc":
        r = cellvae("encode", "encoder.onnx", "small.h5ad", "-q", cwd=d, env=fault_env("npy-enospc"))
    else:
        r = cellvae("encode", "encoder.onnx", "small.h5ad", "-q", cwd=d, max_file_size=4096)
    return d, r


@pytest.mark.integration
def test_cli_disk_full_keeps_files(encode_disk_full):
    d, r = encode_disk_full
    assert r.returncode == 1, r.stderr
    assert "no space left" in r.stderr.lower() or "written" in r.stderr  # numpy: "8128 requested and 4096 written"
    assert (d / "small-encodings.npy").read_bytes() == b"previous encodings"
    assert hidden_files(d) == []


@pytest.mark.integration
def test_cli_disk_full_is_one_line(encode_disk_full):
    d, r = encode_disk_full
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error:") and "small-encodings.npy" in lines[0], r.stderr


# ------------------------------------------------------------------------------------------------------------
# Training: resumed runs reach the weights of uninterrupted ones

EPOCHS = 10
TRAIN_YAML = (f"model:\n  hidden_dims: [32]\n  latent_dim: 4\ntrain:\n  max_epochs: {EPOCHS}\n  patience: 1000\n"
              "  batch_size: 8\n  kl_warmup_epochs: 3\n  threads: 1\n  checkpoint_every: 3\ndata:\n  n_top_genes: 50\n")


@pytest.fixture(scope="module")
def train_work(tmp_path_factory):
    "Data, a small config, and a run trained for all its epochs without interruption (~0.3 s an epoch)."
    from cellvae.data import synthetic_counts
    d = tmp_path_factory.mktemp("train")
    synthetic_counts(n_cells=1500, n_genes=100, seed=0).write_h5ad(d / "train.h5ad")
    (d / "small.yaml").write_text(TRAIN_YAML)
    r = cellvae("train", "train.h5ad", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "straight", "-q", cwd=d)
    assert r.returncode == 0, r.stderr
    return d


def _weights(run: Path) -> dict:
    import torch
    return torch.load(run / "model" / "model.pt", map_location="cpu", weights_only=True)


def _history(run: Path) -> list:
    "The per-epoch history of metrics.json, without the seconds each epoch took."
    h = json.loads((run / "metrics.json").read_text())["train"]["history"]
    return [{k: v for k, v in e.items() if k != "seconds"} for e in h]


def assert_same_training(a: Path, b: Path):
    wa, wb = _weights(a), _weights(b)
    assert list(wa) == list(wb)
    import torch
    assert all(torch.equal(wa[k], wb[k]) for k in wa), [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert _history(a) == _history(b)
    ta, tb = (json.loads((r / "metrics.json").read_text())["train"] for r in (a, b))
    assert ta["epochs"] == tb["epochs"] == EPOCHS
    assert (ta["best_epoch"], ta["best_val_loss"]) == (tb["best_epoch"], tb["best_val_loss"])


@pytest.mark.integration
def test_resume_after_max_epochs(train_work):
    "Trained for 4 epochs, then resumed to all of them: the same weights and losses as one uninterrupted run."
    d = train_work
    r = cellvae("train", "train.h5ad", "--config", "small.yaml", "-o", "runs", "--run-id", "part", "--max-epochs", 4, "-q", cwd=d)
    assert r.returncode == 0, r.stderr
    r = cellvae("train", "train.h5ad", "--config", "small.yaml", "-o", "runs", "--resume", "runs/part", "-q", cwd=d)
    assert r.returncode == 0, r.stderr
    assert_same_training(d / "runs" / "straight", d / "runs" / "part")


@pytest.mark.integration
def test_resume_after_sigterm(train_work):
    """Killed (SIGTERM) after its first checkpoint (epoch 2 of 10, every 3 epochs): the running epoch finishes and is
    checkpointed, then the command stops; resumed, it reaches the same weights and losses as one uninterrupted run."""
    import torch
    d = train_work
    run = d / "runs" / "killed"
    err = d / "killed.stderr"
    p = popen("train", "train.h5ad", "--config", "small.yaml", "-o", "runs", "--run-id", "killed", "-q", cwd=d, stderr_path=err)
    wait_for((run / "model" / "checkpoint.pt").exists, p, "first checkpoint")
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 130, err.read_text()
    assert "Interrupted" in err.read_text() and "Traceback" not in err.read_text()
    assert "finishing this epoch to write its checkpoint" in err.read_text()
    ck = torch.load(run / "model" / "checkpoint.pt", weights_only=True)
    assert 2 <= ck["epoch"] < EPOCHS - 1, "the kill came after training had finished"
    assert len(ck["history"]) == ck["epoch"] + 1
    assert not (run / "model" / "model.pt").exists() and hidden_files(run) == []
    r = cellvae("train", "train.h5ad", "--config", "small.yaml", "-o", "runs", "--resume", run, "-q", cwd=d)
    assert r.returncode == 0, r.stderr
    assert_same_training(d / "runs" / "straight", run)


@pytest.mark.integration
def test_resume_uses_the_runs_config(train_work):
    d = train_work
    r = cellvae("train", "train.h5ad", "--config", "small.yaml", "-o", "runs", "--run-id", "noconf", "--max-epochs", 2, "-q", cwd=d)
    assert r.returncode == 0, r.stderr
    run = d / "runs" / "noconf"
    used = (run / "config.used.yaml").read_text()
    r = cellvae("train", "train.h5ad", "-o", "runs", "--resume", run, "--max-epochs", EPOCHS, "-q", cwd=d)
    if r.returncode == 0:  # resumed with the run's own config
        assert_same_training(d / "runs" / "straight", run)
    else:  # or refused clearly, leaving the run as it was
        lines = error_lines(r.stderr)
        assert r.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error:"), r.stderr
        assert (run / "config.used.yaml").read_text() == used


@pytest.mark.integration
def test_resume_of_a_run_from_before_a_key_existed(train_work):
    """A run written before `model.input_target_sum` and `train.depth_augmentation` existed (its config.used.yaml lacks
    them) resumes as it was trained, at 10,000 counts a cell and without augmentation, not with today's defaults."""
    import yaml
    d = train_work
    cfg = yaml.safe_load(TRAIN_YAML)
    cfg["model"]["input_target_sum"], cfg["train"]["depth_augmentation"] = 10_000.0, 0.0
    (d / "before.yaml").write_text(yaml.safe_dump(cfg))
    for run_id, epochs in (("before-straight", EPOCHS), ("before-part", 4)):
        r = cellvae("train", "train.h5ad", "--config", "before.yaml", "-o", "runs", "--run-id", run_id, "--max-epochs", epochs, "-q", cwd=d)
        assert r.returncode == 0, r.stderr
    used = d / "runs" / "before-part" / "config.used.yaml"
    old = yaml.safe_load(used.read_text())
    del old["model"]["input_target_sum"], old["train"]["depth_augmentation"]  # as an older cellvae wrote it
    used.write_text(yaml.safe_dump(old, sort_keys=False))
    r = cellvae("train", "train.h5ad", "-o", "runs", "--resume", d / "runs" / "before-part", "--max-epochs", EPOCHS, "-q", cwd=d)
    assert r.returncode == 0, r.stderr
    assert_same_training(d / "runs" / "before-straight", d / "runs" / "before-part")


@pytest.mark.integration
@pytest.mark.parametrize("how", ["option", "environment"])
def test_out_of_range_seed_is_refused_or_used(train_work, how):
    d = train_work
    args = ["train", "train.h5ad", "--config", "small.yaml", "-o", "runs", "--run-id", f"seed-{how}", "--max-epochs", 1, "-q"]
    if how == "option": r = cellvae(*args, "--seed", 2**32, cwd=d)
    else: r = cellvae(*args, cwd=d, env=run_env(CELLVAE_SEED="-1"))
    assert "Traceback" not in r.stderr and "InvalidParameterError" not in r.stderr, r.stderr[-400:]
    assert r.returncode in (0, 1, 2) and (r.returncode == 0 or len(error_lines(r.stderr)) == 1), r.stderr[-400:]


# ------------------------------------------------------------------------------------------------------------
# Determinism: the same data, config and seed give the same files

PIPELINE_YAML = ("model:\n  hidden_dims: [16]\n  latent_dim: 4\ntrain:\n  max_epochs: 6\n  batch_size: 64\n"
                 "  kl_warmup_epochs: 3\ndata:\n  n_top_genes: 50\n")


@pytest.fixture(scope="module")
def two_pipelines(tmp_path_factory):
    "The same pipeline run twice, each in its own folder (relative paths, so metrics.json's paths agree)."
    from cellvae.data import synthetic_counts
    runs = []
    for name in ("first", "second"):
        d = tmp_path_factory.mktemp(name)
        # 400 genes: adata.h5ad (0.5 MB) must outweigh every file written before it, cluster.onnx (0.2 MB) included
        synthetic_counts(n_cells=300, n_genes=400, seed=0).write_h5ad(d / "train.h5ad")
        (d / "small.yaml").write_text(PIPELINE_YAML)
        r = cellvae("pipeline", "train.h5ad", "--config", "small.yaml", "-o", "runs", "--run-id", "p", "-q", cwd=d)
        assert r.returncode == 0, r.stderr
        runs.append(d / "runs" / "p")
    return runs


def _flat(x, prefix=""):
    if isinstance(x, dict):
        for k, v in x.items(): yield from _flat(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(x, list):
        for i, v in enumerate(x): yield from _flat(v, f"{prefix}[{i}]")
    else: yield prefix, x


def metrics_differences(a: Path, b: Path) -> list[str]:
    fa, fb = (dict(_flat(json.loads((r / "metrics.json").read_text()))) for r in (a, b))
    return sorted(k for k in fa.keys() | fb.keys() if fa.get(k, "<absent>") != fb.get(k, "<absent>"))


SAME_BYTES = ["encodings.npy", "cluster-labels.npy", "cluster-probabilities.npy", "adata.h5ad", "config.used.yaml",
              "model/encoder.onnx", "model/encoder.genes", "model/cluster.onnx"]


@pytest.mark.integration
@pytest.mark.parametrize("name", SAME_BYTES)
def test_pipeline_files_are_identical(two_pipelines, name):
    a, b = two_pipelines
    assert (a / name).read_bytes() == (b / name).read_bytes()


@pytest.mark.integration
def test_pipeline_weights_are_identical(two_pipelines):
    import torch
    wa, wb = (_weights(r) for r in two_pipelines)
    assert list(wa) == list(wb) and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.integration
def test_metrics_differ_only_in_timings(two_pipelines):
    "Clock times live under `timings` (stages, total, each epoch); every other value of metrics.json is reproducible."
    diff = metrics_differences(*two_pipelines)
    print("metrics.json keys that differ:", diff)
    assert all(k.startswith("timings.") for k in diff), diff


@pytest.mark.integration
def test_model_json_is_identical(two_pipelines):
    fa, fb = (dict(_flat(json.loads((r / "model" / "model.json").read_text()))) for r in two_pipelines)
    assert sorted(k for k in fa.keys() | fb.keys() if fa.get(k, "<absent>") != fb.get(k, "<absent>")) == []


@pytest.mark.integration
def test_model_pt_is_byte_identical(two_pipelines):
    a, b = two_pipelines
    assert (a / "model" / "model.pt").read_bytes() == (b / "model" / "model.pt").read_bytes()


@pytest.mark.integration
def test_encode_batch_size_does_not_change_encodings(two_pipelines, tmp_path, record_property):
    "`cellvae encode` with 1, 7, 32 and 1024 cells per call: encodings equal within 1e-6 (and to the pipeline's)."
    run = two_pipelines[0]
    z = {}
    for b in (1, 7, 32, 1024):
        r = cellvae("encode", run / "model" / "encoder.onnx", run.parent.parent / "train.h5ad", "--batch-size", b,
                    "--output", tmp_path / f"z{b}.npy", "-q", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        z[b] = np.load(tmp_path / f"z{b}.npy")
    ref = np.load(run / "encodings.npy")
    worst = max(float(np.abs(v - ref).max()) for v in z.values())
    record_property("max_encode_difference", worst)
    print(f"largest difference across batch sizes: {worst:.3g}", {b: float(np.abs(v - ref).max()) for b, v in z.items()})
    assert all(v.shape == ref.shape and v.dtype == np.float32 for v in z.values())
    assert worst <= 1e-6


# ------------------------------------------------------------------------------------------------------------
# A full disk while the pipeline writes adata.h5ad, its last file

@pytest.fixture(scope="module")
def pipeline_disk_full(tmp_path_factory, two_pipelines):
    """The pipeline with a file-size limit between the size of adata.h5ad and all the files written before it (as
    measured on the runs above; report.html comes after it): those are written, and adata.h5ad's write fails for real."""
    sizes = {p.relative_to(two_pipelines[0]): p.stat().st_size for p in two_pipelines[0].rglob("*") if p.is_file()}
    others = max(n for p, n in sizes.items() if p.name not in ("adata.h5ad", "report.html"))
    assert sizes[Path("adata.h5ad")] > 1.2 * others, sizes
    from cellvae.data import synthetic_counts
    d = tmp_path_factory.mktemp("pfull")
    synthetic_counts(n_cells=300, n_genes=400, seed=0).write_h5ad(d / "train.h5ad")
    (d / "small.yaml").write_text(PIPELINE_YAML)
    r = cellvae("pipeline", "train.h5ad", "--config", "small.yaml", "-o", "runs", "--run-id", "p", "-q", cwd=d,
                max_file_size=(others + sizes[Path("adata.h5ad")]) // 2)
    return d / "runs" / "p", r


@pytest.mark.integration
def test_pipeline_disk_full_leaves_no_adata(pipeline_disk_full):
    "The failed adata.h5ad write leaves no file under its name and no temporary (the other files of the run stay)."
    run, r = pipeline_disk_full
    assert r.returncode != 0, r.stderr[-2000:]
    assert "too large" in r.stderr and "adata.h5ad" in r.stderr
    assert (run / "encodings.npy").exists() and not (run / "adata.h5ad").exists() and hidden_files(run) == []


@pytest.mark.integration
def test_pipeline_disk_full_exits_cleanly(pipeline_disk_full):
    run, r = pipeline_disk_full
    lines = error_lines(r.stderr)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("Error:") and "adata.h5ad" in lines[0], r.stderr[-2000:]


@pytest.mark.integration
def test_failed_pipeline_is_marked_and_resumes(pipeline_disk_full, two_pipelines):
    "The run that failed writing adata.h5ad says so in metrics.json, and --resume finishes it as one uninterrupted run."
    run, r = pipeline_disk_full
    m = json.loads((run / "metrics.json").read_text())
    assert (m["status"], m["failed_stage"]) == ("failed", "write_adata") and "adata.h5ad" in m["error"]
    assert f"--resume {run.relative_to(run.parent.parent)}" in r.stderr and "--overwrite" in r.stderr
    r = cellvae("pipeline", "train.h5ad", "-o", "runs", "--resume", "runs/p", "-q", cwd=run.parent.parent)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((run / "metrics.json").read_text())
    assert m["status"] == "complete" and "failed_stage" not in m and (run / "adata.h5ad").exists()
    assert np.array_equal(np.load(run / "encodings.npy"), np.load(two_pipelines[0] / "encodings.npy"))
