__version__ = "0.1.0"

# The public Python API. nbdev writes this file's version (and would write its docstring); the names below are
# kept here by hand, as nbdev's own `__init__.py` does. They load on first use, so `import cellvae` (and the
# console script, which imports it) stays fast: torch, scanpy and onnxruntime load only when needed.
import importlib as _importlib

_API = {
    "read_counts": "data", "load_dataset": "data", "preprocess": "data", "synthetic_counts": "data", "synthetic_atlas": "data",
    "CellVAE": "vae",
    "encode_adata": "encode", "annotate_adata": "annotate",
    "fit_clusters": "cluster", "export_cluster_model": "cluster", "cluster_adata": "cluster",
    "score_representation": "eval", "transfer_labels_adata": "eval", "batch_mixing": "eval",
    "explain_adata": "explain", "cluster_markers": "explain", "write_features": "explain",
    "umap_embedding": "viz", "plot_embedding": "viz", "write_report": "report",
    "load_config": "settings",
}
__all__ = sorted(_API)


def __getattr__(name):
    if name not in _API: raise AttributeError(f"module 'cellvae' has no attribute '{name}'")
    value = getattr(_importlib.import_module(f".{_API[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
