"""Peak memory of training in memory vs streamed from disk (issue #16), on realistic synthetic counts.

    python benchmarks/stream_memory.py write /tmp/cells.h5ad --cells 100000 --genes 3000
    python benchmarks/stream_memory.py memory /tmp/cells.h5ad     # each mode in a fresh process
    python benchmarks/stream_memory.py stream /tmp/cells.h5ad

Each run reads the file, chooses 2,000 HVGs, builds the default model and trains one epoch (batch 256, one thread):
the same steps on both paths. It prints the process's peak RSS (ru_maxrss) after each stage.
"""
import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def peak_mb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["write", "memory", "stream"])
    ap.add_argument("path", type=Path)
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--genes", type=int, default=3000)
    ap.add_argument("--chunk-size", type=int, default=10_000)
    ap.add_argument("--shuffle-buffer", type=int, default=4)
    a = ap.parse_args()
    if a.mode == "write":
        from synthetic import realistic_counts
        from cellvae.data import write_h5ad
        t = time.perf_counter()
        write_h5ad(realistic_counts(a.cells, a.genes, seed=0), a.path)
        print(f"wrote {a.path} ({a.path.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - t:.0f} s")
        return
    import torch
    torch.set_num_threads(1)
    from cellvae.vae import CellVAE
    print(f"{a.mode}: after imports {peak_mb():.0f} MB")
    t = time.perf_counter()
    if a.mode == "memory":
        from cellvae.data import preprocess, read_counts
        adata = read_counts(a.path)
        print(f"{a.mode}: read {peak_mb():.0f} MB")
        preprocess(adata, n_top_genes=2000)
    else:
        from cellvae.stream import preprocess_streamed, read_backed
        adata = read_backed(a.path)
        print(f"{a.mode}: read {peak_mb():.0f} MB")
        preprocess_streamed(adata, n_top_genes=2000, chunk_size=a.chunk_size)
    print(f"{a.mode}: preprocess {peak_mb():.0f} MB ({time.perf_counter() - t:.0f} s)")
    t = time.perf_counter()
    model = CellVAE(adata, labels_key="cell_type")
    h = model.train(max_epochs=1, batch_size=256, progress=False, chunk_size=a.chunk_size, shuffle_buffer=a.shuffle_buffer)
    print(f"{a.mode}: train one epoch {peak_mb():.0f} MB ({time.perf_counter() - t:.0f} s, val loss {h.best_val_loss:.1f})")


if __name__ == "__main__":
    main()
