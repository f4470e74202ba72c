"""Draw the README's picture: the default `cellvae pipeline` run on the embedded PBMCs, its UMAP by cell type.

`python tools/readme_figure.py` runs the pipeline in a temporary folder (about half a minute) and writes
nbs/images/pbmc68k_umap.png, which nbs/index.ipynb (and so README.md) shows. Nothing is downloaded.
"""
import shutil
import tempfile
from pathlib import Path

from cellvae.pipeline import run_folder, run_pipeline
from cellvae.settings import load_config

OUT = Path(__file__).resolve().parents[1] / "nbs" / "images" / "pbmc68k_umap.png"

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        cfg = load_config(env={}, profile=False, overrides={"viz.dpi": 100})
        run = run_folder(cfg, d, "readme")
        metrics = run_pipeline(None, cfg, run, progress=False)
        OUT.parent.mkdir(exist_ok=True)
        shutil.copyfile(run.figures / "umap_labels.png", OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB); kNN F1-macro {metrics['annotation']['knn']['f1_macro']:.3f}")
