"""Prototype: density-balanced training batches. Cells are drawn (with replacement) with weight n_c^-gamma, n_c the size
of their unsupervised Leiden cluster (resolution 1, on PCA-30 of the log-normalised training HVGs): rare populations
are seen more often. Validation and early stopping unchanged. Scores as quality.py. Not part of the library.

    PYTHONPATH=. python benchmarks/results/balanced_sampling_prototype.py 0.5   # gamma; rows: quality-balanced_sampling_*-rows.jsonl
"""
import sys, numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import quality
import cellvae.data as D
gamma = float(sys.argv[1])
_orig = D.DataAdapter.train_batches
def weights(self):
    if getattr(self, "_w", None) is None:
        from sklearn.decomposition import PCA
        from cellvae.eval import leiden_clusters
        X = self.X.multiply(1e4 / np.maximum(self.X.sum(1), 1)).tocsr(); X.data = np.log1p(X.data)
        pc = PCA(30, random_state=self.seed).fit_transform(X.toarray())
        cl = np.asarray(leiden_clusters(pc, resolution=1.0, seed=self.seed))
        n = np.bincount(cl)[cl].astype(float)
        self._w = n ** -gamma
        self._ncl = len(np.unique(cl))
    return self._w
def train_batches(self, epoch=0, rank=0, world_size=1):
    w = weights(self)[self.train_idx]
    order = np.random.default_rng([self.seed, epoch]).choice(self.train_idx, size=len(self.train_idx), replace=True, p=w / w.sum())
    starts = [s for s in range(0, len(order), self.batch_size) if s == 0 or min(self.batch_size, len(order) - s) >= 2]
    for s in D.shard(starts, rank, world_size, "training batches"):
        yield self._batch(np.sort(order[s:s + self.batch_size]))
D.DataAdapter.train_batches = train_batches
quality.prototype(dict(gamma=gamma))
