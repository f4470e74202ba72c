"""The error catalogue: every user mistake we know of, run through the installed `cellvae` console script.

Each case must end with exit code 1 (2 for a mistake on the command line itself, which Typer reports), one
line on stderr that names the file or field and says what to do, no traceback, and no file written (nor a
hidden temporary file left behind). tests/README.md lists the cases with the message a user sees.

Each case runs in its own folder, which holds links to the shared files, so whatever a case writes by
mistake lands in its own folder; the cases run two at a time (each is a process that mostly waits on imports).
"""
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.integration

CELLVAE = str(Path(sys.executable).parent / "cellvae")  # the installed console script, as users run it
ENC = "runs/t/model/encoder.onnx"                       # the encoder of the small trained run
_OURS = ("CELLVAE_", "DATA_ROOT", "EXPERIMENT_ROOT", "ASSET_IMAGES_DIR")


def clean_env(**extra) -> dict:
    "The environment without cellvae's variables (as conftest's `clean_env` fixture), plus `extra`."
    return {**{k: v for k, v in os.environ.items() if not k.startswith(_OURS)}, **extra}


def cellvae(*args, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([CELLVAE, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env or clean_env())


# ---------------------------------------------------------------------------------------------------------
# The files the cases use, built once: a small dataset, a tiny trained run, encodings, cluster models, and
# one broken file per mistake.

SMALL_YAML = "model:\n  hidden_dims: [16]\n  latent_dim: 4\ntrain:\n  max_epochs: 2\ndata:\n  n_top_genes: 50\n"


def build_files(d: Path) -> Path:
    "Write every file the cases use into `d` (the tiny run is trained with the real command line)."
    import anndata as ad
    import scipy.sparse as sp
    from cellvae.cluster import export_cluster_model, fit_clusters
    from cellvae.data import synthetic_counts, write_genes
    from cellvae.encode import encode

    d.mkdir(parents=True, exist_ok=True)
    a = synthetic_counts(n_cells=200, n_genes=60, n_types=3, n_batches=2, seed=0)
    a.obs["one"] = "x"  # a label column with a single class
    a.write_h5ad(d / "good.h5ad")
    holes = a.copy(); holes.obs["batch"] = holes.obs["batch"].astype(object).where(np.arange(a.n_obs) >= 5).astype("category")
    holes.write_h5ad(d / "holes.h5ad")  # five cells without a batch
    (d / "small.yaml").write_text(SMALL_YAML)
    r = cellvae("train", "good.h5ad", "--config", "small.yaml", "--output-dir", "runs", "--run-id", "t", "--quiet", cwd=d)
    assert r.returncode == 0, r.stderr

    # data files
    (d / "adir").mkdir()
    for n in ("empty.h5ad", "empty.onnx", "empty.genes"): (d / n).write_bytes(b"")
    raw = (d / "good.h5ad").read_bytes()
    (d / "truncated.h5ad").write_bytes(raw[: len(raw) // 2])
    (d / "text.h5ad").write_text("cell,gene\n1,2\n")
    a[:0].copy().write_h5ad(d / "cells0.h5ad")
    a[:, :0].copy().write_h5ad(d / "genes0.h5ad")
    X = a.X.toarray(); X[0, :3] = np.nan; X[1, :2] = -1; X[2, 0] = 0.5
    ad.AnnData(X=X, obs=a.obs, var=a.var).write_h5ad(d / "badvalues.h5ad")  # NaN, negative, non-integer; no counts layer
    lognorm = a.copy(); lognorm.X = sp.csr_matrix(np.log1p(a.X.toarray() / a.X.sum(1).A * 1e4, dtype=np.float32))
    lognorm.write_h5ad(d / "lognorm.h5ad")  # X normalised, the raw counts in layers['counts']
    dup = a.copy(); dup.var_names = ["gene0", "gene0", *a.var_names[2:]]
    dup.write_h5ad(d / "dupgenes.h5ad")
    other = a.copy(); other.var_names = [f"ENSG{j:011d}" for j in range(a.n_vars)]
    other.write_h5ad(d / "othergenes.h5ad")
    genes = list(a.var_names)
    write_genes(genes[:-1], d / "short.genes")
    (d / "blank.genes").write_text("\n".join(genes[:10] + [""] + genes[10:]) + "\n")
    (d / "dup.genes").write_text("\n".join(genes[:-1] + [genes[0]]) + "\n")

    # model files
    (d / "notonnx.onnx").write_text("not a model")
    (d / "nogenes").mkdir(); shutil.copy(d / ENC, d / "nogenes" / "encoder.onnx")
    (d / "wrongwidth").mkdir(); shutil.copy(d / ENC, d / "wrongwidth" / "encoder.onnx")
    write_genes((d / ENC).with_suffix(".genes").read_text().split()[:-2], d / "wrongwidth" / "encoder.genes")

    # encodings and cluster models
    z = encode(d / ENC, d / "good.h5ad", quiet=True)
    np.save(d / "enc.npy", z)
    np.save(d / "enc100.npy", z[:100])
    export_cluster_model(fit_clusters(z, min_cluster_size=10), d / "cluster.onnx")
    z3 = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    export_cluster_model(fit_clusters(z3, min_cluster_size=10), d / "cluster3d.onnx")
    np.save(d / "enc1d.npy", z[:, 0])
    np.save(d / "encint.npy", (z * 10).astype(np.int64))
    np.save(d / "encstr.npy", np.array([["a", "b"], ["c", "d"]]))
    znan = z.copy(); znan[[3, 7], 1] = np.nan
    np.save(d / "encnan.npy", znan)
    (d / "text.npy").write_text("0.1 0.2\n")

    # configuration files
    (d / "unknown.yaml").write_text("train:\n  max_epoch: 3\n")
    (d / "brackets.yaml").write_text('train:\n  "[/x]": 3\n')
    (d / "wrongtype.yaml").write_text("train:\n  max_epochs: ten\n")
    (d / "invalid.yaml").write_text("train: [max_epochs: 3\n")
    (d / "zerobatch.yaml").write_text("cluster:\n  batch_size: 0\n")

    # an existing folder that is not a cellvae run
    (d / "runs" / "notarun").mkdir(); (d / "runs" / "notarun" / "notes.txt").write_text("keep me")
    return d


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return build_files(tmp_path_factory.mktemp("catalogue") / "files")  # the cases' own folders go beside it


# ---------------------------------------------------------------------------------------------------------
# The catalogue

@dataclass
class Case:
    id: str                     # what is wrong
    args: list                  # the command line after `cellvae`
    expect: list                # strings the one-line message must hold (the file or field, and what to do)
    code: int = 1               # 1 for a user error, 2 for a mistake on the command line that Typer reports
    env: dict = field(default_factory=dict)  # extra environment variables
    xfail: str = ""             # why this case fails today (a fix proposed for a notebook owned elsewhere)


_EVAL = ["eval", "--encodings", "enc.npy", "--data", "good.h5ad"]

CASES = [
    # a path that does not exist
    Case("missing data file", ["inspect", "missing.h5ad"], ["missing.h5ad", "not found", "check the path"]),
    Case("missing training data", ["train", "missing.h5ad", "-o", "out", "--run-id", "x"], ["missing.h5ad", "not found"]),
    Case("missing encoder", ["encode", "missing.onnx", "good.h5ad"], ["missing.onnx", "not found", "encoder.onnx"]),
    Case("missing sample", ["encode", ENC, "missing.h5ad"], ["missing.h5ad", "not found"]),
    Case("missing .genes", ["encode", ENC, "good.h5ad", "--genes", "missing.genes"], ["missing.genes", "not found"]),
    Case("missing encodings", ["train-clusters", "missing.npy", "c.onnx"], ["missing.npy", "not found", "cellvae encode"]),
    Case("missing cluster model", ["cluster", "missing.onnx", "enc.npy"], ["missing.onnx", "not found", "cluster.onnx"]),
    Case("missing run folder", ["eval", "runs/missing"], ["runs/missing", "not a run folder"]),
    Case("missing config file", ["inspect", "good.h5ad", "--config", "missing.yaml"], ["missing.yaml", "not found"]),
    # a directory where a file is expected
    Case("directory as data", ["inspect", "adir"], ["adir", "is a directory", ".h5ad"]),
    Case("directory as encoder", ["encode", "adir", "good.h5ad"], ["adir", "is a directory", "encoder.onnx"]),
    Case("directory as sample", ["encode", ENC, "adir"], ["adir", "is a directory"]),
    Case("directory as .genes", ["encode", ENC, "good.h5ad", "--genes", "adir"], ["adir", "is a directory", ".genes"]),
    Case("directory as encodings", ["train-clusters", "adir", "c.onnx"], ["adir", "is a directory", "encodings"]),
    Case("directory as cluster model", ["cluster", "adir", "enc.npy"], ["adir", "is a directory", "cluster.onnx"]),
    Case("directory as config", ["inspect", "good.h5ad", "--config", "adir"], ["adir", "is a directory", "YAML"]),
    # empty, truncated, or not what its name says
    Case("empty .h5ad", ["inspect", "empty.h5ad"], ["empty.h5ad", "empty"]),
    Case("empty encoder", ["encode", "empty.onnx", "good.h5ad"], ["empty.onnx", "empty", "encoder.onnx"]),
    Case("empty .genes", ["encode", ENC, "good.h5ad", "--genes", "empty.genes"], ["empty.genes", "empty"]),
    Case("truncated .h5ad", ["inspect", "truncated.h5ad"], ["truncated.h5ad", "truncated or corrupt"]),
    Case("truncated sample", ["encode", ENC, "truncated.h5ad"], ["truncated.h5ad", "truncated or corrupt"]),
    Case("text file named .h5ad", ["train", "text.h5ad", "-o", "out", "--run-id", "x"], ["text.h5ad", "not an HDF5 file"]),
    Case("text sample named .h5ad", ["encode", ENC, "text.h5ad"], ["text.h5ad", "not an HDF5 file"]),
    Case("text file named .npy", ["cluster", "cluster.onnx", "text.npy"], ["text.npy", "not a NumPy .npy", "cellvae encode"]),
    # the count matrix
    Case("0 cells", ["train", "cells0.h5ad", "-o", "out", "--run-id", "x"], ["cells0.h5ad", "0 cells"]),
    Case("0 cells to encode", ["encode", ENC, "cells0.h5ad"], ["cells0.h5ad", "0 cells"]),
    Case("0 genes", ["inspect", "genes0.h5ad"], ["genes0.h5ad", "0 genes"]),
    Case("0 genes to encode", ["encode", ENC, "genes0.h5ad"], ["genes0.h5ad", "0 genes"]),
    Case("NaN, negative, non-integer counts", ["inspect", "badvalues.h5ad"],
         ["badvalues.h5ad: X", "3 NaN or infinite", "2 negative", "1 non-integer", "raw", "counts"]),
    Case("normalised X, counts in a layer", ["train", "lognorm.h5ad", "-o", "out", "--run-id", "x"],
         ["lognorm.h5ad: X", "non-integer", "--layer counts"]),
    Case("normalised X, counts in a layer (encode)", ["encode", ENC, "lognorm.h5ad"], ["lognorm.h5ad: X", "non-integer", "--layer counts"]),
    Case("a layer that does not exist", ["inspect", "good.h5ad", "--layer", "raw"], ["good.h5ad", "no layer `raw`", "layers: counts"]),
    Case("a layer that does not exist (encode)", ["encode", ENC, "good.h5ad", "--layer", "raw"], ["good.h5ad", "no layer `raw`", "--layer"]),
    Case("duplicate gene names", ["inspect", "dupgenes.h5ad"], ["dupgenes.h5ad", "duplicate gene names", "gene0", "unique"]),
    Case("duplicate gene names (encode)", ["encode", ENC, "dupgenes.h5ad"], ["dupgenes.h5ad", "duplicate gene name", "gene0", "--genes"]),
    Case("no gene overlap with the model", ["encode", ENC, "othergenes.h5ad"],
         ["othergenes.h5ad", "none of its 60 genes", "same gene naming"]),
    # .genes files
    Case(".genes with the wrong number of lines", ["encode", ENC, "good.h5ad", "--genes", "short.genes"],
         ["short.genes", "59 genes", "60", "one line per column"]),
    Case(".genes with a blank line", ["encode", ENC, "good.h5ad", "--genes", "blank.genes"], ["blank.genes", "blank line 11"]),
    Case(".genes with a duplicate", ["encode", ENC, "good.h5ad", "--genes", "dup.genes"], ["dup.genes", "duplicate gene name (gene0)"]),
    # obs keys
    Case("--labels-key not in obs", ["train", "good.h5ad", "--labels-key", "celltype", "-o", "out", "--run-id", "x"],
         ["good.h5ad", "`celltype`", "--labels-key", "available: cell_type, batch, one"]),
    Case("--batch-key not in obs", ["pipeline", "good.h5ad", "--batch-key", "sample", "-o", "out", "--run-id", "x"],
         ["good.h5ad", "`sample`", "--batch-key", "available: cell_type, batch, one"]),
    Case("batch column with missing values", ["pipeline", "holes.h5ad", "--batch-key", "batch", "-o", "out", "--run-id", "x"],
         ["holes.h5ad", "`batch`", "5 cells without a batch", "'nan'"]),
    Case("--labels-key not in obs (eval)", [*_EVAL, "--labels-key", "celltype"], ["good.h5ad", "`celltype`", "available: cell_type, batch, one"]),
    Case("label column with a single class", ["train", "good.h5ad", "--labels-key", "one", "-o", "out", "--run-id", "x"],
         ["good.h5ad", "`one`", "single class", "--labels-key"]),
    Case("label column with a single class (eval)", [*_EVAL, "--labels-key", "one"], ["good.h5ad", "`one`", "single class"]),
    # model files
    Case("encoder.onnx that is not ONNX", ["encode", "notonnx.onnx", "good.h5ad"], ["notonnx.onnx", "not a valid ONNX model", "encoder.onnx"]),
    Case("another ONNX model as encoder", ["encode", "cluster.onnx", "good.h5ad"], ["cluster.onnx", "not a cellvae encoder.onnx", "['counts']"]),
    Case("encoder wider than its .genes", ["encode", "wrongwidth/encoder.onnx", "good.h5ad"],
         ["wrongwidth/encoder.onnx", "takes 50 genes", "lists 48", "gene list exported with this encoder"]),
    Case("encoder without its .genes", ["encode", "nogenes/encoder.onnx", "good.h5ad"], ["nogenes/encoder.genes", "missing"]),
    Case("cluster.onnx for another latent width", ["cluster", "cluster3d.onnx", "enc.npy"], ["4 latent dimensions", "cluster3d.onnx", "fitted on 3"]),
    Case("encoder as cluster model", ["cluster", ENC, "enc.npy"], ["encoder.onnx", "not a cellvae cluster.onnx"]),
    # encodings
    Case("encodings not 2-D", ["train-clusters", "enc1d.npy", "c.onnx"], ["enc1d.npy", "2-D", "(200,)"]),
    Case("integer encodings", ["cluster", "cluster.onnx", "encint.npy"], ["encint.npy", "float32 or float64", "int64"]),
    Case("string encodings", ["train-clusters", "encstr.npy", "c.onnx"], ["encstr.npy", "float32 or float64", "<U1"]),
    Case("NaN in encodings", ["cluster", "cluster.onnx", "encnan.npy"], ["encnan.npy", "2 of 200 cells", "NaN"]),
    Case("encodings for other cells (eval)", ["eval", "--encodings", "enc100.npy", "--data", "good.h5ad"], ["enc100.npy", "100", "200"]),
    Case("cluster labels file that is not .npy (eval)", [*_EVAL, "--clusters", "text.npy"], ["text.npy", "--clusters"]),
    Case("eval with nothing to score", ["eval"], ["run folder", "--encodings", "--data"]),
    # configuration
    Case("config with an unknown key", ["train", "good.h5ad", "--config", "unknown.yaml", "-o", "out", "--run-id", "x"],
         ["unknown.yaml", "unknown key `train.max_epoch`", "known keys"]),
    Case("config key that looks like markup", ["inspect", "good.h5ad", "--config", "brackets.yaml"], ["brackets.yaml", "unknown key `train.[/x]`"]),
    Case("config with a wrong type", ["encode", ENC, "good.h5ad", "--config", "wrongtype.yaml"],
         ["wrongtype.yaml", "`train.max_epochs` must be a whole number", "'ten'"]),
    Case("config with invalid YAML", ["inspect", "good.h5ad", "--config", "invalid.yaml"], ["invalid.yaml", "invalid YAML at line", "fix the syntax"]),
    Case("bad environment value", ["train", "good.h5ad", "-o", "out", "--run-id", "x"],
         ["CELLVAE_TRAIN__MAX_EPOCHS", "must be a whole number", "'ten'"], env={"CELLVAE_TRAIN__MAX_EPOCHS": "ten"}),
    Case("unknown environment variable", ["encode", ENC, "good.h5ad"], ["CELLVAE_ENCODE__BATCHSIZE", "no config key", "CELLVAE_<SECTION>__<KEY>"],
         env={"CELLVAE_ENCODE__BATCHSIZE": "8"}),
    Case("machine profile that is not one", ["inspect", "good.h5ad"], ["unknown.yaml", "missing key", "cellvae profile"],
         env={"CELLVAE_PROFILE": "unknown.yaml"}),
    Case("cluster config with a bad batch size", ["cluster", "cluster.onnx", "enc.npy", "--config", "zerobatch.yaml"],
         ["zerobatch.yaml", "`cluster.batch_size` must be at least 1"]),
    # memory: the bound a machine profile sets (data.max_memory_gb)
    Case("data above the memory bound", ["train", "good.h5ad", "-o", "out", "--run-id", "x"],
         ["good.h5ad: reading its 200 cells x 60 genes", "above `max_memory_gb`", "raise the bound"],
         env={"CELLVAE_DATA__MAX_MEMORY_GB": "0.00001"}),
    Case("encoding above the memory bound", ["encode", ENC, "good.h5ad", "--batch-size", "200"],
         ["good.h5ad: encoding 200 cells in batches of 200", "above `max_memory_gb`", "smaller --batch-size", "--num-samples"],
         env={"CELLVAE_DATA__MAX_MEMORY_GB": "0.00001"}),
    # the command line itself (Typer checks it: exit code 2)
    Case("--batch-size 0", ["encode", ENC, "good.h5ad", "--batch-size", "0"], ["--batch-size", "greater than or equal to 1", "cellvae encode --help"], code=2),
    Case("--batch-size not a number", ["cluster", "cluster.onnx", "enc.npy", "--batch-size", "ten"], ["--batch-size", "integer", "cellvae cluster --help"], code=2),
    Case("negative --num-samples", ["train-clusters", "enc.npy", "c.onnx", "--num-samples", "-5"], ["--num-samples", "greater than or equal to 1"], code=2),
    Case("--max-epochs 0", ["train", "good.h5ad", "--max-epochs", "0", "-o", "out", "--run-id", "x"], ["--max-epochs", "greater than or equal to 1"], code=2),
    Case("missing argument", ["encode", ENC], ["Missing argument 'sample'", "cellvae encode --help"], code=2),
    Case("unknown option", ["cluster", "cluster.onnx", "enc.npy", "--min-cluster-size", "5"], ["--min-cluster-size", "cellvae cluster --help"], code=2),
    Case("unknown command", ["trian", "good.h5ad"], ["No such command 'trian'", "Did you mean 'train'?", "cellvae --help"], code=2),
    # outputs
    Case("existing run folder", ["train", "good.h5ad", "--config", "small.yaml", "-o", "runs", "--run-id", "t"], ["runs/t", "exists", "--overwrite"]),
    Case("existing run folder (pipeline)", ["pipeline", "good.h5ad", "-o", "runs", "--run-id", "t"], ["runs/t", "exists", "--overwrite"]),
    Case("--overwrite of a folder that is not a run", ["train", "good.h5ad", "-o", "runs", "--run-id", "notarun", "--overwrite"],
         ["runs/notarun", "not a cellvae run folder", "refusing"]),
    Case("--run-id with /", ["train", "good.h5ad", "-o", "out", "--run-id", "a/b"], ["--run-id a/b:", "plain folder name"]),
    Case("--run-id ..", ["pipeline", "good.h5ad", "-o", "out", "--run-id", ".."], ["--run-id ..:", "plain folder name"]),
    Case("--run-id absolute path", ["train", "good.h5ad", "-o", "out", "--run-id", "/tmp/x"], ["--run-id /tmp/x:", "plain folder name"]),
    # report
    Case("report of a missing run folder", ["report", "runs/missing"], ["runs/missing", "not a run folder"]),
    Case("report output is a directory", ["report", "runs/t", "--output", "adir"], ["adir", "is a directory"]),
    # annotation
    Case("model without an annotator", ["annotate", "nogenes", "good.h5ad"], ["nogenes", "no annotator.onnx here", "--labels-key"]),
    Case("empty query", ["annotate", "runs/t/model", "cells0.h5ad"], ["cells0.h5ad", "0 cells"]),
    Case("query with no gene of the model", ["annotate", "runs/t/model", "othergenes.h5ad"], ["othergenes.h5ad", "none of its 60 genes"]),
    Case("query labels key not in obs", ["annotate", "runs/t/model", "good.h5ad", "--labels-key", "celltype"],
         ["good.h5ad", "`celltype`", "--labels-key", "available: cell_type, batch, one"]),
    Case("--min-confidence above 1", ["annotate", "runs/t/model", "good.h5ad", "--min-confidence", "2"], ["--min-confidence", "cellvae annotate --help"], code=2),
    Case("--resume of a folder that is not a run", ["pipeline", "good.h5ad", "--resume", "adir"], ["adir", "not a cellvae run folder"]),
    Case("--output-dir is a file", ["train", "good.h5ad", "--config", "small.yaml", "-o", "small.yaml", "--run-id", "x"],
         ["small.yaml/x", "is a file, not a folder"]),
    Case("output folder missing", ["encode", ENC, "good.h5ad", "--output", "nodir/z.npy"], ["nodir", "does not exist", "create it"]),
    Case("output is a directory (encode)", ["encode", ENC, "good.h5ad", "--output", "adir"], ["adir", "is a directory", "--output"]),
    Case("output is a directory (train-clusters)", ["train-clusters", "enc.npy", "adir"], ["adir", "is a directory", "file name"]),
    Case("output is a directory (cluster)", ["cluster", "cluster.onnx", "enc.npy", "--output", "adir"], ["adir", "is a directory", "file name"]),
]


# ---------------------------------------------------------------------------------------------------------
# Running the cases

def _tree(d: Path) -> dict:
    "Every path under `d` with its kind, size and modification time, links not followed."
    out = {}
    for root, dirs, names in os.walk(d):
        for n in dirs + names:
            st = os.lstat(Path(root) / n)
            out[(Path(root) / n).relative_to(d)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def _stat_tree(d: Path) -> dict:
    "Every path under `d` with its size and modification time."
    return {p.relative_to(d): (p.stat().st_size, p.stat().st_mtime_ns) for p in d.rglob("*")}


def _sandbox(files: Path, name: str) -> Path:
    "A folder for one case: the shared folders recreated, each shared file a link."
    d = files.parent / "cases" / name
    for p in sorted(files.rglob("*")):
        q = d / p.relative_to(files)
        if p.is_dir(): q.mkdir(parents=True)
        else: q.parent.mkdir(parents=True, exist_ok=True); q.symlink_to(p)
    return d


def _selected(request) -> list:
    "The cases this pytest session runs (all, or those chosen with -k)."
    ids = {it.callspec.params["case"].id for it in request.session.items
           if getattr(it, "module", None) is sys.modules[__name__] and "case" in getattr(getattr(it, "callspec", None), "params", {})}
    return [c for c in CASES if c.id in ids] or CASES


@pytest.fixture(scope="module")
def outcomes(files, request):
    "Run the selected cases, two at a time, each in its own folder: ({id: (result, paths written or changed)}, shared files intact)."
    def run(i_case):
        i, case = i_case
        d = _sandbox(files, f"{i:03d}")
        before = _tree(d)
        r = cellvae(*case.args, cwd=d, env=clean_env(**case.env))
        after = _tree(d)
        return case.id, (r, sorted(str(p) for p in after if after[p] != before.get(p)))
    shared = _stat_tree(files)
    with ThreadPoolExecutor(max_workers=2) as ex:
        out = dict(ex.map(run, enumerate(_selected(request))))
    return out, _stat_tree(files) == shared


def check_one_line(r: subprocess.CompletedProcess, code: int, expect) -> str:
    "The user sees exit code `code` and one line holding each of `expect`, with no traceback."
    err = r.stderr.strip()
    assert r.returncode == code, (r.returncode, r.stderr)
    assert err and "\n" not in err, f"not one line:\n{r.stderr}"
    assert "Traceback" not in err
    for s in expect: assert s in err, (s, err)
    return err


def _params() -> list:
    "The cases as pytest parameters; a case that fails today is a strict xfail, so a fix makes it pass loudly."
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []) for c in CASES]


@pytest.mark.parametrize("case", _params())
def test_catalogue(outcomes, case):
    r, new = outcomes[0][case.id]
    check_one_line(r, case.code, case.expect)
    assert new == [], f"files written or changed: {new}"  # nothing under the final name, no temporary file left


def test_no_case_changed_the_shared_files(outcomes):
    assert outcomes[1]  # no shared file was written through the link to it in a case's folder


def test_verbose_shows_the_traceback(files):
    r = cellvae("--verbose", "inspect", "text.h5ad", cwd=files)
    assert r.returncode == 1 and "Traceback" in r.stderr and "not an HDF5 file" in r.stderr


def test_overwrite_replaces_a_run(files):
    run = files / "runs" / "o"
    shutil.copytree(files / "runs" / "t", run)
    (run / "stale.txt").write_text("from an earlier run")
    r = cellvae("train", "good.h5ad", "--config", "small.yaml", "--max-epochs", "1", "-o", "runs", "--run-id", "o", "--overwrite",
                "--quiet", cwd=files)
    assert r.returncode == 0, r.stderr
    assert not (run / "stale.txt").exists() and (run / "model" / "encoder.onnx").exists()
    assert "max_epochs: 1" in (run / "config.used.yaml").read_text()
    assert not list(run.rglob(".*"))  # no temporary files left


@pytest.fixture
def read_only(files):
    "A folder nobody may write in: mode 0o500, or for root (whom modes do not stop) the immutable attribute."
    d = files / "readonly"
    d.mkdir(exist_ok=True)
    d.chmod(0o500)
    root = os.geteuid() == 0
    if root and subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode != 0:
        d.chmod(0o700)
        pytest.skip("running as root, which ignores file permissions, on a file system without chattr +i")
    yield d
    if root: subprocess.run(["chattr", "-i", str(d)], check=True)
    d.chmod(0o700)


@pytest.mark.parametrize("args", [
    ["encode", ENC, "good.h5ad", "--output", "readonly/z.npy"],
    ["train-clusters", "enc.npy", "readonly/c.onnx"],
    ["cluster", "cluster.onnx", "enc.npy", "--output", "readonly/labels.npy"],
    ["train", "good.h5ad", "--config", "small.yaml", "-o", "readonly", "--run-id", "x"],
], ids=["encode", "train-clusters", "cluster", "train"])
def test_unwritable_output_folder(files, read_only, args):
    check_one_line(cellvae(*args, cwd=files), 1, ["readonly", "permission"])
    assert list(read_only.iterdir()) == []


# ---------------------------------------------------------------------------------------------------------
# `python tests/test_catalogue.py` prints the catalogue table of tests/README.md from real runs.

def _row(n: int, case: Case, r: subprocess.CompletedProcess) -> str:
    import re
    import shlex
    err = r.stderr.strip()
    if "Traceback" in err or "\n" in err:
        exc = [l.strip() for l in err.splitlines() if re.match(r"^\w+(Error|Exception): ", l.strip())]
        err = f"(a traceback ending in {exc[-1][:90] if exc else '...'}...)"
    if r.returncode == 0: err = "(no error: exit 0)"
    cmd = " ".join([*(f"{k}={v}" for k, v in case.env.items()), "cellvae", shlex.join(map(str, case.args))])
    md = lambda s: s.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return f"| {n} | {md(case.id)}{md(f' (**open**: {case.xfail})' if case.xfail else '')} | `{cmd}` | {r.returncode} | {md(err)} |"


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        files = build_files(Path(tmp) / "files")
        print("| # | Mistake | Command | Exit | What the user sees (stderr) |\n|---|---|---|---|---|")
        for i, case in enumerate(CASES):
            print(_row(i + 1, case, cellvae(*case.args, cwd=_sandbox(files, f"{i:03d}"), env=clean_env(**case.env))), flush=True)
