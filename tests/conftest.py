import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PBMC3K = ROOT.parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def pbmc3k_path() -> Path:
    "The real pbmc3k counts beside the repository (CI has them); skip where they are absent."
    if not PBMC3K.exists():
        pytest.skip(f"real data not found at {PBMC3K} (it lives in ../shared beside the repository)")
    return PBMC3K


@pytest.fixture(scope="session")
def chromium() -> str:
    "A Chromium binary for Playwright (`executable_path`): $CELLVAE_CHROMIUM, else the first on PATH; skip where there is none."
    for name in (os.environ.get("CELLVAE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name): return shutil.which(name)
    pytest.skip("no Chromium here: install Debian's chromium (apt-get install chromium) or set CELLVAE_CHROMIUM to a Chrome binary")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    "No cellvae variables from the caller's environment, and a working directory with no .env or config.yml."
    for k in list(os.environ):
        if k.startswith("CELLVAE_") or k in ("DATA_ROOT", "EXPERIMENT_ROOT", "ASSET_IMAGES_DIR"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def pbmc3k_models():
    "The default model trained on pbmc3k with seeds 0, 1 and 2 (one thread), once per test session: (AnnData, {seed: CellVAE})."
    if not PBMC3K.exists():
        pytest.skip(f"real data not found at {PBMC3K} (it lives in ../shared beside the repository)")
    import warnings
    import torch
    import cellvae
    torch.set_num_threads(1)
    adata = cellvae.read_counts(PBMC3K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cellvae.preprocess(adata)
    models = {}
    for seed in (0, 1, 2):
        cfg = cellvae.load_config(env={}, profile=False, overrides={"seed": seed})
        models[seed] = cellvae.CellVAE.from_config(adata, cfg, labels_key="cell_type")
        models[seed].train_from_config(cfg, progress=False)
    return adata, models


@pytest.fixture(scope="session")
def pbmc3k_model(pbmc3k_models):
    "The default model trained on pbmc3k with seed 0: (AnnData, CellVAE)."
    adata, models = pbmc3k_models
    return adata, models[0]
