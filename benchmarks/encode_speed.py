"""Encoding speed and memory: the float ONNX encoder, the int8 one (`encode.quantize: dynamic`) and torch eager.

Not a test: it prints figures. It trains the default model on pbmc3k (or, without ../shared, on synthetic counts),
exports `encoder.onnx`, and writes `encoder.int8.onnx` through `quantize_encoder`, whose check it prints (max and mean
abs difference of the latents, kNN F1-macro of both on the training cells). Then:

1. **The model call alone**, in this process: one batch of real cells (model genes, raw counts), the median of 30
   calls, at 1 and 2 threads, for the float ONNX, int8 ONNX and torch eager encoders.
2. **The whole streamed loop**, each in a fresh subprocess so that peak RSS is its own: reading the `.h5ad` in
   batches, mapping genes, encoding, as `cellvae encode` does, on pbmc3k and on a realistic synthetic sample
   (`synthetic.realistic_counts`, ~7% non-zero), at batch sizes 32 and 1,024, one thread.
Between the two, the time of each operator of both ONNX models on that batch (onnxruntime's profiler).

Run from the repository root (about 3 minutes):

    python benchmarks/encode_speed.py
    python benchmarks/encode_speed.py --cells 20000 --batch-sizes 1024
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PBMC3K = ROOT.parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"
sys.path.insert(0, str(Path(__file__).parent))

CHILD = r'''
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, torch
from cellvae.encode import encode, open_encoder, SampleReader
from cellvae.data import gene_map
torch.set_num_threads(1)
mode, enc_path, sample, bs, vae_dir = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
import threading, psutil
proc, peak_now, done = psutil.Process(), [0], threading.Event()
def _sample():  # the high-water mark of ru_maxrss may come from the imports; sample the RSS during the run instead
    while not done.is_set():
        peak_now[0] = max(peak_now[0], proc.memory_info().rss); time.sleep(0.005)
base = proc.memory_info().rss
sampler = threading.Thread(target=_sample, daemon=True); sampler.start()
t0 = time.perf_counter()
if mode in ("onnx", "int8"):  # what `cellvae encode` runs
    model = open_encoder(enc_path, threads=1)
    t1 = time.perf_counter()
    z = encode(model, sample, batch_size=bs, quiet=True)
else:  # the same streamed batches through the torch encoder
    from cellvae.vae import CellVAE
    vae = CellVAE.load(vae_dir)
    vae.module.eval()
    t1 = time.perf_counter()
    with SampleReader(sample) as r, torch.no_grad():
        gm = gene_map(vae.genes, r.genes)
        z = np.empty((r.n_cells, vae.module.latent_dim), np.float32)
        for s in range(0, r.n_cells, bs):
            e = min(s + bs, r.n_cells)
            z[s:e] = vae.module.encoder(torch.from_numpy(gm.apply(r.rows(s, e))))[0].numpy()
t2 = time.perf_counter()
done.set(); sampler.join()
peak = max(peak_now[0], proc.memory_info().rss)
print(json.dumps(dict(cells=len(z), open_seconds=t1 - t0, loop_seconds=t2 - t1, rss_over_baseline_mb=(peak - base) / 2**20,
                      peak_rss_mb=peak / 2**20)))
'''


def run(mode, enc, sample, bs, vae_dir):
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(enc), str(sample), str(bs), str(vae_dir)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def model_calls(enc, int8, vae, x, reps=30):
    "cells/s of the model call alone on batch `x`, median of `reps`, at 1 and 2 threads."
    import torch
    from cellvae.core import open_onnx
    rows = []
    for threads in (1, 2):
        calls = {}
        for name, path in (("float ONNX", enc), ("int8 ONNX", int8)):
            sess = open_onnx(path, "encoder.onnx", ["counts"], ["latent"], threads)
            calls[name] = lambda s=sess: s.run(None, {"counts": x})
        torch.set_num_threads(threads)
        xt = torch.from_numpy(x)
        def eager():
            with torch.no_grad(): return vae.module.encoder(xt)[0]
        calls["torch eager"] = eager
        for name, call in calls.items():
            call(); call()
            ts = []
            for _ in range(reps):
                t = time.perf_counter(); call(); ts.append(time.perf_counter() - t)
            rows.append((threads, name, float(np.median(ts))))
    return rows


def node_times(path, x, reps=30):
    "Mean ms a call of each operator of the ONNX model at `path` on batch `x`, one thread (onnxruntime's profiler)."
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads, opts.enable_profiling = 1, 1, True
    opts.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    for _ in range(reps): sess.run(None, {"counts": x})
    totals = {}
    for e in json.loads(Path(sess.end_profiling()).read_text()):
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            totals[e["args"]["op_name"]] = totals.get(e["args"]["op_name"], 0) + e["dur"] / 1e3 / reps
    return sorted(totals.items(), key=lambda kv: -kv[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=100_000, help="cells in the synthetic sample")
    ap.add_argument("--batch-sizes", default="32,1024")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import torch
    from cellvae.data import preprocess, read_counts, synthetic_counts
    from cellvae.encode import quantize_encoder
    from cellvae.settings import load_config
    from cellvae.vae import CellVAE
    from synthetic import density, realistic_counts
    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp())
    samples = []
    if PBMC3K.exists():
        adata = read_counts(PBMC3K)
        samples.append(("pbmc3k", PBMC3K))
    else:
        adata = synthetic_counts(n_cells=3000, n_genes=5000, seed=0)
    preprocess(adata)
    cfg = load_config(env={}, profile=False)
    model = CellVAE.from_config(adata, cfg, labels_key="cell_type")
    t = time.perf_counter()
    model.train_from_config(cfg, progress=False)
    print(f"trained the default model on {adata.n_obs:,} cells in {time.perf_counter() - t:.0f} s")
    model.save(tmp / "model")
    enc = model.export_encoder(tmp / "encoder.onnx")
    counts = model.model_counts(adata)
    check = quantize_encoder(enc, counts, adata.obs["cell_type"].to_numpy(), max_cells=adata.n_obs)
    int8 = Path(check["path"])
    print(f"int8 encoder: {check['mb_int8']:.2f} MB (float {check['mb_float']:.2f} MB); on {check['n_cells']:,} cells "
          f"latent max abs diff {check['max_abs_diff']:.4f}, mean {check['mean_abs_diff']:.4f}; kNN F1-macro "
          f"{check['knn_f1_float']:.4f} float, {check['knn_f1_int8']:.4f} int8 (change {-check['f1_drop']:+.4f}); "
          f"{check['neighbour_agreement']:.1%} of 15 nearest neighbours the same")

    print("\nthe model call alone (median of 30), batch 1,024 real cells")
    x = np.ascontiguousarray(counts[:1024].toarray() if hasattr(counts, "toarray") else counts[:1024], dtype=np.float32)
    rows = model_calls(enc, int8, model, x)
    print(f"{'threads':>7} {'model':<12} {'ms':>7} {'cells/s':>10} {'vs float ONNX':>14} {'vs torch':>9}")
    for threads, name, sec in rows:
        ref = {n: s for t, n, s in rows if t == threads}
        print(f"{threads:>7} {name:<12} {1e3 * sec:>7.2f} {1024 / sec:>10,.0f} {ref['float ONNX'] / sec:>13.2f}x "
              f"{ref['torch eager'] / sec:>8.2f}x")

    print("\nwhere a call's time goes, one thread (onnxruntime's profiler, mean ms of 30 calls by operator)")
    for name, path in (("float ONNX", enc), ("int8 ONNX", int8)):
        print(f"{name:<12} " + ", ".join(f"{op} {ms:.2f}" for op, ms in node_times(path, x) if ms >= 0.05))

    syn = realistic_counts(args.cells, n_genes=len(model.genes), seed=1)
    syn.var_names = list(model.genes)
    syn.write_h5ad(tmp / "synthetic.h5ad")
    samples.append((f"synthetic {args.cells:,} ({density(syn):.1%} non-zero)", tmp / "synthetic.h5ad"))
    print(f"\nthe whole streamed loop (one thread, fresh process each)")
    print(f"{'sample':<36} {'batch':>6} {'model':>6} {'open s':>7} {'loop s':>7} {'cells/s':>10} {'RSS over baseline MB':>21} {'peak RSS MB':>12}")
    for name, path in samples:
        for bs in map(int, args.batch_sizes.split(",")):
            for mode, path_ in (("onnx", enc), ("int8", int8), ("torch", enc)):
                r = run(mode, path_, path, bs, tmp / "model")
                print(f"{name:<36} {bs:>6} {mode:>6} {r['open_seconds']:>7.2f} {r['loop_seconds']:>7.2f} "
                      f"{r['cells'] / r['loop_seconds']:>10,.0f} {r['rss_over_baseline_mb']:>21.0f} {r['peak_rss_mb']:>12.0f}")


if __name__ == "__main__":
    main()
