"""Encoding speed and memory: cellvae's ONNX encode path vs torch eager on the same batches.

Not a test: it prints figures. Each measurement runs in a fresh subprocess so that peak RSS is its own
(reported as the increase over the interpreter's baseline after imports). Both paths stream the same batches
through the same reader and gene mapping, so "loop s" differs only by the model call; "open s" is opening the
model (an onnxruntime session, or loading the torch weights). The ONNX run then calls `cellvae.encode.encode`
too and checks that it gives the same encodings.

Measured on 100,000 cells at batch size 1,024: onnxruntime's calls are faster than torch's (in one process,
0.96 s against 1.16 s for the model calls), but in its own process the ONNX loop's reading and gene mapping run
slower (about 3.7 s against 3.1 s for the whole loop). The difference is in how glibc allocates the large
per-batch buffers in that process: with `MALLOC_MMAP_THRESHOLD_=67108864` in the environment (large buffers
then come from the heap rather than fresh mappings) the two loops take the same time (3.13 s against 3.11 s).
Run from the repository root:

    python benchmarks/encode_speed.py                  # pbmc3k (if present) and a 100,000-cell synthetic .h5ad
    python benchmarks/encode_speed.py --cells 20000    # a smaller synthetic file
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PBMC3K = ROOT.parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"

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
if mode == "onnx":  # what `cellvae encode` runs: open the encoder, stream the batches through onnxruntime
    model = open_encoder(enc_path, threads=1)
    model_genes, latent, call = model.genes, model.latent_dim, model
else:  # the same streamed batches through the torch encoder
    from cellvae.vae import CellVAE
    vae = CellVAE.load(vae_dir)
    vae.module.eval()
    model_genes, latent = vae.genes, vae.module.latent_dim
    call = lambda x: vae.module.encoder(torch.from_numpy(x))[0].numpy()
t1 = time.perf_counter()
with SampleReader(sample) as r, torch.no_grad():
    gm = gene_map(model_genes, r.genes)
    z = np.empty((r.n_cells, latent), np.float32)
    for s in range(0, r.n_cells, bs):
        e = min(s + bs, r.n_cells)
        z[s:e] = call(gm.apply(r.rows(s, e)))
t2 = time.perf_counter()
if mode == "onnx":  # and the library call itself, for the record
    z2 = encode(model, sample, batch_size=bs, quiet=True)
    assert np.array_equal(z, z2)
done.set(); sampler.join()
peak = max(peak_now[0], proc.memory_info().rss)
print(json.dumps(dict(cells=len(z), open_seconds=t1 - t0, loop_seconds=t2 - t1, rss_over_baseline_mb=(peak - base) / 2**20,
                      peak_rss_mb=peak / 2**20)))
'''


def run(mode, enc, sample, bs, vae_dir):
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(enc), str(sample), str(bs), str(vae_dir)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=100_000, help="cells in the synthetic sample")
    ap.add_argument("--batch-sizes", default="32,1024")
    args = ap.parse_args()
    import warnings
    warnings.simplefilter("ignore")
    from cellvae.data import preprocess, read_counts, synthetic_counts
    from cellvae.vae import CellVAE
    tmp = Path(tempfile.mkdtemp())
    samples = []
    if PBMC3K.exists():
        train = preprocess(read_counts(PBMC3K), n_top_genes=2000, subset=True, copy=True)
        samples.append(("pbmc3k", PBMC3K))
    else:
        train = preprocess(synthetic_counts(n_cells=3000, n_genes=5000, seed=0), n_top_genes=2000, subset=True, copy=True)
    model = CellVAE(train)  # untrained weights encode at the same speed as trained ones
    model.save(tmp / "model")
    enc = model.export_encoder(tmp / "encoder.onnx")
    syn = synthetic_counts(n_cells=args.cells, n_genes=train.n_vars, n_types=10, seed=1)
    syn.var_names = list(train.var_names)
    t = time.perf_counter()
    syn.write_h5ad(tmp / "synthetic.h5ad")
    print(f"wrote a {args.cells:,}-cell synthetic .h5ad in {time.perf_counter() - t:.1f} s")
    samples.append((f"synthetic {args.cells:,}", tmp / "synthetic.h5ad"))
    print(f"{'sample':<20} {'batch':>6} {'path':>6} {'open s':>7} {'loop s':>7} {'cells/s':>10} {'RSS over baseline MB':>21} {'peak RSS MB':>12}")
    for name, path in samples:
        for bs in map(int, args.batch_sizes.split(",")):
            for mode in ("onnx", "torch"):
                r = run(mode, enc, path, bs, tmp / "model")
                print(f"{name:<20} {bs:>6} {mode:>6} {r['open_seconds']:>7.2f} {r['loop_seconds']:>7.2f} {r['cells'] / r['loop_seconds']:>10,.0f} "
                      f"{r['rss_over_baseline_mb']:>21.0f} {r['peak_rss_mb']:>12.0f}")


if __name__ == "__main__":
    main()
