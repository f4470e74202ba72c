"""Time to a trained model, default against default: `cellvae train` next to scvi-tools' SCVI as a scanpy user runs it.

Not a test: it prints a table. Each run is a whole child process, timed on the wall clock from start to exit, so
imports, reading the data and choosing genes count for both tools:

- cellvae: `cellvae train DATA --labels-key cell_type --seed N` with the shipped config (200 epochs at most, early
  stopping with patience 10 after the KL warm-up) and no machine profile; its default run also exports
  encoder.onnx and annotator.onnx.
- scvi-tools: `benchmarks/scvi_default.py` with /work/benchvenv's python: the same 2,000 seurat_v3 HVGs,
  `SCVI.setup_anndata(layer="counts")`, `SCVI(a).train()` with its defaults (400 epochs below 20,000 cells, no early
  stopping), `scvi.settings.seed = N`.

Both get the same torch threads (`--threads`). After each run, and outside its time, the latent (cellvae: the
saved model encodes the cells in this process; scvi: `get_latent_representation()` saved by the child) is scored
by kNN F1-macro (k=15, 5-fold, fold seed 0). Peak RSS is the child's, from /usr/bin/time (or psutil polling).

Datasets: pbmc3k (`../shared/data/pbmc3k/pbmc3k.h5ad`, 2,638 cells, 8 types; skipped if absent) and
synthetic20k (`synthetic.realistic_counts(20_000)`, seed 0, ~7% non-zero, written once to an .h5ad in the work
folder). Run from the repository root with any python that has cellvae (the scvi child uses --scvi-python):

    python benchmarks/time_to_model.py --out benchmarks/results/time-to-model.md     # the comparison, 2-3 h on 2 cores
    python benchmarks/time_to_model.py --datasets synthetic20k --seeds 0 --cells 2000 \\
        --cellvae-max-epochs 2 --scvi-max-epochs 2                                  # smoke test, ~1 min

`--cellvae-max-epochs` and `--scvi-max-epochs` are for smoke tests only; the table says when either was set.
Most of the time is scvi's 400 epochs (pbmc3k: ~5 min a seed, synthetic20k: ~30-40 min a seed on 2 idle cores).
Run it on an otherwise idle machine: with 2 torch threads on 2 cores, any other load slows training several-fold
(scvi on 2,000 cells: 0.7 s an epoch at 1 thread, 2.4-12 s at 2 threads while tests ran). The notes give the load
average before and after.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PBMC3K = ROOT.parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"
BENCH_PYTHON = Path("/work/benchvenv/bin/python")
GNU_TIME = Path("/usr/bin/time")
LABELS_KEY = "cell_type"
DATASETS = ("pbmc3k", "synthetic20k")
TOOLS = ("cellvae", "scvi")


def child_env(threads: int) -> dict:
    "The environment of a child: no cellvae settings of this shell, the same threads for every library."
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CELLVAE_") and k not in ("DATA_ROOT", "EXPERIMENT_ROOT", "ASSET_IMAGES_DIR")}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CELLVAE_TRAIN__THREADS"):
        env[var] = str(threads)
    return env


def _poll_peak_rss(proc) -> float:
    "Wait for `proc`, polling the resident memory of it and its children; the peak in MB."
    import psutil
    peak, p = 0, psutil.Process(proc.pid)
    while proc.poll() is None:
        try: peak = max(peak, sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]))
        except psutil.Error: pass
        time.sleep(0.2)
    return peak / 2**20


def run_child(cmd: list, env: dict, cwd: Path, log: Path) -> tuple[float, float, int]:
    "Run `cmd` to completion, output to `log`: wall seconds, peak RSS in MB, return code."
    rss_file = log.with_suffix(".rss")
    if GNU_TIME.exists(): cmd = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *cmd]
    with open(log, "w") as out:
        t = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        peak = None if GNU_TIME.exists() else _poll_peak_rss(proc)
        rc = proc.wait()
        wall = time.perf_counter() - t
    if peak is None:
        try: peak = int(rss_file.read_text().split()[-1]) / 1024  # KB
        except (OSError, ValueError, IndexError): peak = float("nan")
    return wall, peak, rc


def knn_f1(Z, y) -> float:
    from cellvae.eval import annotation_scores
    return annotation_scores(Z, y, method="knn", k=15, cv=5, seed=0)["f1_macro"]


def cellvae_exe() -> str:
    "The `cellvae` console script of this python, else the one on PATH."
    exe = Path(sys.executable).parent / "cellvae"
    return str(exe) if exe.exists() else (shutil.which("cellvae") or sys.exit("no `cellvae` command: install cellvae in this python."))


def run_cellvae(data, adata, seed, args, work: Path) -> dict:
    "Train with `cellvae train` in a child; epochs from its metrics.json, the latent from its saved model."
    from cellvae.vae import CellVAE
    run_id = f"{data.stem}-seed{seed}"
    cmd = [cellvae_exe(), "train", data, "--labels-key", LABELS_KEY, "--seed", seed, "--output-dir", work / "runs",
           "--run-id", run_id, "--overwrite"]
    if args.cellvae_max_epochs: cmd += ["--max-epochs", args.cellvae_max_epochs]
    log = work / f"cellvae-{run_id}.log"
    env = child_env(args.threads)
    for kv in args.cellvae_set:  # section.key=value -> CELLVAE_SECTION__KEY=value
        key, value = kv.split("=", 1)
        env["CELLVAE_" + key.upper().replace(".", "__")] = value
    wall, rss, rc = run_child(cmd, env, work, log)
    if rc: return {"wall": wall, "rss": rss, "error": f"exit {rc}, see {log}"}
    run = work / "runs" / run_id
    epochs = json.loads((run / "metrics.json").read_text())["train"]["epochs"]
    Z = CellVAE.load(run / "model").get_latent(adata)
    return {"wall": wall, "rss": rss, "epochs": epochs, "Z": Z}


def run_scvi(data, seed, args, work: Path) -> dict:
    "Train SCVI with its defaults in a child (`scvi_default.py`); read back its latent and epochs."
    import numpy as np
    out = work / f"scvi-{data.stem}-seed{seed}"
    cmd = [args.scvi_python, HERE / "scvi_default.py", data, out, "--seed", seed, "--threads", args.threads]
    if args.scvi_max_epochs: cmd += ["--max-epochs", args.scvi_max_epochs]
    log = work / f"scvi-{data.stem}-seed{seed}.log"
    wall, rss, rc = run_child(cmd, child_env(args.threads), work, log)
    if rc: return {"wall": wall, "rss": rss, "error": f"exit {rc}, see {log}"}
    info = json.loads((out / "scvi.json").read_text())
    return {"wall": wall, "rss": rss, "epochs": info["epochs"], "Z": np.load(out / "latent.npy"), "version": info["scvi_version"]}


def datasets(names, n_cells: int, work: Path) -> list[dict]:
    "Each dataset as a file the children read, its counts and labels, and the density of all genes and of the HVGs."
    import warnings
    from cellvae.data import preprocess, read_counts
    from synthetic import density, realistic_counts
    out = []
    for name in names:
        if name == "pbmc3k":
            if not PBMC3K.exists():
                print(f"pbmc3k not found at {PBMC3K}: skipped", file=sys.stderr); continue
            path = PBMC3K
        else:
            path = work / f"synthetic{n_cells // 1000}k.h5ad" if n_cells % 1000 == 0 else work / f"synthetic{n_cells}.h5ad"
            syn = realistic_counts(n_cells, seed=0)
            del syn.layers["counts"]  # raw counts in X only, as a 10x file holds them
            syn.write_h5ad(path)
        adata = read_counts(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hvg = preprocess(adata, subset=True, copy=True)
        out.append({"name": name, "path": path, "adata": adata, "y": adata.obs[LABELS_KEY].astype(str).to_numpy(),
                    "density": density(adata), "hvg_density": density(hvg)})
    return out


def md_table(rows: list[dict]) -> str:
    cols = list(rows[0])
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols),
                      *("| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows)])


def summary(rows: list[dict]) -> list[dict]:
    "Per dataset and tool: mean wall, epochs and peak RSS, F1 mean ± sd, and scvi's wall over cellvae's."
    out, walls = [], {}
    for key in dict.fromkeys((r["dataset"], r["tool"]) for r in rows):
        rs = [r for r in rows if (r["dataset"], r["tool"]) == key and "error" not in r]
        if not rs: continue
        f1 = [r["f1"] for r in rs]
        walls[key] = statistics.mean(r["wall"] for r in rs)
        out.append({"dataset": key[0], "tool": key[1], "runs": len(rs), "density (all genes / HVGs)": rs[0]["densities"],
                    "mean wall s": f"{walls[key]:.1f}", "mean epochs": f"{statistics.mean(r['epochs'] for r in rs):.0f}",
                    "mean peak RSS MB": f"{statistics.mean(r['rss'] for r in rs):,.0f}",
                    "kNN F1 (mean ± sd)": f"{statistics.mean(f1):.3f} ± {statistics.stdev(f1) if len(f1) > 1 else 0:.3f}"})
    for s in out:
        c, v = walls.get((s["dataset"], "cellvae")), walls.get((s["dataset"], "scvi"))
        s["speed-up scvi/cellvae"] = f"{v / c:.1f}x" if s["tool"] == "cellvae" and c and v else ""
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    ap.add_argument("--threads", type=int, default=2, help="torch threads of every child")
    ap.add_argument("--cells", type=int, default=20_000, help="cells of the synthetic set (smaller only for smoke tests)")
    ap.add_argument("--cellvae-max-epochs", type=int, default=None, help="override cellvae's max epochs (smoke tests only)")
    ap.add_argument("--cellvae-set", action="append", default=[], metavar="KEY=VALUE",
                    help="a cellvae config override for its children, e.g. train.depth_augmentation=0")
    ap.add_argument("--scvi-max-epochs", type=int, default=None, help="override scvi's max epochs (smoke tests only)")
    ap.add_argument("--scvi-python", default=str(BENCH_PYTHON if BENCH_PYTHON.exists() else sys.executable),
                    help="a python with scvi-tools (default: /work/benchvenv's)")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the data, run folders and logs here (default: a temporary folder)")
    ap.add_argument("--out", type=Path, default=None, help="also write the tables to this markdown file")
    args = ap.parse_args()
    import torch
    import cellvae
    torch.set_num_threads(args.threads)  # for encoding and scoring in this process, outside the timed children
    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="time-to-model-")
    work = (args.workdir or Path(tmp.name)).resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows, scvi_version, load_before = [], "?", os.getloadavg()[0]
    for ds in datasets(args.datasets, args.cells, work):
        for seed in args.seeds:
            for tool in args.tools:
                r = run_cellvae(ds["path"], ds["adata"], seed, args, work) if tool == "cellvae" else run_scvi(ds["path"], seed, args, work)
                scvi_version = r.pop("version", scvi_version)
                if "Z" in r: r["f1"] = knn_f1(r.pop("Z"), ds["y"])
                row = {"dataset": ds["name"], "cells": ds["adata"].n_obs, "density": ds["density"], "tool": tool, "seed": seed, **r,
                       "densities": f"{ds['density']:.3f} / {ds['hvg_density']:.3f}"}
                rows.append(row)
                print(f"{ds['name']} {tool} seed {seed}: " + (r["error"] if "error" in r else
                      f"{r['wall']:.1f} s, {r['epochs']} epochs, {r['rss']:,.0f} MB, kNN F1 {r['f1']:.4f}"), file=sys.stderr)
    per_run = [{"dataset": r["dataset"], "cells": f"{r['cells']:,}", "density": f"{r['density']:.3f}", "tool": r["tool"],
                "seed": r["seed"], "wall s": f"{r['wall']:.1f}", "epochs": r.get("epochs", "-"), "peak RSS MB": f"{r['rss']:,.0f}",
                "kNN F1": f"{r['f1']:.4f}" if "f1" in r else r["error"]} for r in rows]
    overrides = [f"{t} max_epochs overridden to {n}" for t, n in
                 (("cellvae", args.cellvae_max_epochs), ("scvi", args.scvi_max_epochs)) if n]
    notes = [f"{datetime.date.today()}, {platform.node()}: {os.cpu_count()} cores, {args.threads} torch threads per run, "
             f"torch {torch.__version__}, cellvae {cellvae.__version__}, scvi-tools {scvi_version}; "
             f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after.",
             "Wall: the whole child process (imports, reading, HVGs, training, writing). Density: fraction non-zero of the "
             "counts (all genes; the summary adds the 2,000 HVGs).",
             ("SMOKE TEST, not the default comparison: " + "; ".join(overrides) + ".") if overrides else
             "Defaults on both sides: cellvae's config (max 200 epochs, early stopping), scvi-tools' train() (400 epochs below 20k cells)."]
    summ = summary(rows)
    text = "\n\n".join(["# Time to a trained model, default against default", *notes, "## Runs", md_table(per_run),
                        *(["## Summary", md_table(summ)] if summ else [])]) + "\n"
    print(text)
    if args.out: args.out.write_text(text)
    if tmp: tmp.cleanup()
    if any("error" in r for r in rows): sys.exit(1)


if __name__ == "__main__":
    main()
