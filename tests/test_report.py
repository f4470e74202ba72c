"""The HTML report in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

The page must load from a file:// URL with no console error and no network request, filter its tables as a
gene or cell-type name is typed into the search box, and show hostile names (a cell type or gene that is
HTML) as text without running them. Skips, saying why, only where no Chromium or no Playwright is installed
(`.ci/run` installs Chromium with apt-get where it can).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cellvae.data import synthetic_counts

pytestmark = pytest.mark.integration
CELLVAE = str(Path(sys.executable).parent / "cellvae")
HOSTILE_TYPE = '<img src=x onerror="window.__pwned=1">'
HOSTILE_GENE = "<script>window.__pwned=2</script>"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    "A pipeline run on synthetic counts with a hostile cell type and a hostile gene name, and its report."
    d = tmp_path_factory.mktemp("report")
    a = synthetic_counts(n_cells=400, n_genes=120, n_types=4, seed=0)
    a.obs["cell_type"] = a.obs["cell_type"].cat.rename_categories({"type0": HOSTILE_TYPE})
    names = list(a.var_names)
    counts = a.X.toarray() if hasattr(a.X, "toarray") else a.X
    names[int(counts.sum(0).argmax())] = HOSTILE_GENE  # the most expressed gene: it reaches the markers and the programs
    a.var_names = names
    a.write_h5ad(d / "data.h5ad")
    (d / "small.yaml").write_text("model:\n  hidden_dims: [32]\n  latent_dim: 6\ntrain:\n  max_epochs: 10\ndata:\n  n_top_genes: 100\n")
    r = subprocess.run([CELLVAE, "pipeline", "data.h5ad", "--config", "small.yaml", "-o", "runs", "--run-id", "r", "--quiet"],
                       cwd=d, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return d / "runs" / "r" / "report.html"


def test_report_is_self_contained(report):
    html = report.read_text()
    assert HOSTILE_GENE not in html and HOSTILE_TYPE not in html  # escaped, in the HTML source too
    assert "src=\"http" not in html and "href=\"http" not in html and "@import" not in html and "url(" not in html


def test_report_in_chromium(chromium, report):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")
    features = json.loads((report.parent / "features.json").read_text())
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = b.new_page()
        errors, requests = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        assert errors == []
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        assert page.evaluate("window.__pwned") is None  # the hostile names did not run
        body = page.inner_text("body")
        assert HOSTILE_TYPE in body and HOSTILE_GENE in body  # ... and show as text

        rows = page.locator("table.searchable tbody tr")
        total = rows.count()
        assert total == len(features["dimensions"]) + len(features["clusters"])
        gene = features["dimensions"][0]["positive"][0]["gene"]
        page.fill("#q", gene)
        visible = [i for i in range(total) if rows.nth(i).is_visible()]
        assert 1 <= len(visible) < total
        assert all(gene.lower() in rows.nth(i).get_attribute("data-search") for i in visible)
        assert "rows match" in page.inner_text("#count")
        page.fill("#q", "no gene is called this")
        assert not any(rows.nth(i).is_visible() for i in range(total))
        page.fill("#q", "")
        assert all(rows.nth(i).is_visible() for i in range(total))
        page.fill("#q", "type1")  # a cell type: the dimensions it lights up and the clusters it makes up
        assert any(rows.nth(i).is_visible() for i in range(total))
        b.close()
