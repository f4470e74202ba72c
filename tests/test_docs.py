"""The documentation pages as a reader sees them.

The notebooks are committed with their outputs (`python tools/run_nbs.py`, then `nbdev-clean`), nbdev's usual
way, so the Quarto site and GitHub show their figures and tables with execution off. Here:
- every notebook stays under a size budget and holds no error output, and the pages that draw keep their figures;
- `tools/preview_docs.py` (`nbdev-proc-nbs`, then nbconvert) renders three pages (the index, a library
  notebook, the command-line tutorial), and headless Chromium (Debian's `chromium`, driven by Playwright) checks
  that their images load, that `show_doc` rendered each documented name as a heading and signature, and that no
  `#|` directive or hidden cell reached the page.
"""
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
NB_BUDGET = 1_000_000     # bytes per notebook, outputs included
TOTAL_BUDGET = 6_000_000  # bytes for all notebooks together
DRAWN = ["index.ipynb", "tutorial.ipynb", "tutorial_cli.ipynb", "06_viz.ipynb"]  # pages whose point includes figures


def cells(name: str) -> list[dict]:
    return json.loads((NBS / name).read_text())["cells"]


def images(cell: dict) -> int:
    return sum(any(k.startswith("image/") for k in o.get("data", {})) for o in cell.get("outputs", []))


def test_notebooks_within_budget():
    sizes = {p.name: p.stat().st_size for p in NBS.glob("*.ipynb")}
    assert {n: s for n, s in sizes.items() if s > NB_BUDGET} == {}, f"notebooks over {NB_BUDGET / 1e6:g} MB: shrink their figures (dpi) or outputs"
    assert sum(sizes.values()) <= TOTAL_BUDGET
    for p in NBS.glob("*.ipynb"):
        for c in cells(p.name):
            for o in c.get("outputs", []):
                assert o["output_type"] != "error", f"{p.name} was committed with an error output: {o.get('ename')}: {o.get('evalue')}"
                kinds = {k for k in o.get("data", {}) if k.startswith("image/")}
                assert kinds <= {"image/png", "image/svg+xml"}, f"{p.name}: {kinds}"


@pytest.mark.parametrize("name", DRAWN)
def test_drawing_pages_keep_their_figures(name):
    assert sum(images(c) for c in cells(name)) >= 1, f"{name} has no figure in its outputs: run python tools/run_nbs.py nbs/{name}, then nbdev-clean"


def test_readme_picture_is_a_committed_file():
    readme = (ROOT / "README.md").read_text()
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert pictures, "the README shows no picture"
    for pic in pictures:
        assert not pic.startswith("http") and (ROOT / pic).is_file(), pic


# ---- the preview in a browser

PAGES = ["index", "00_data", "tutorial_cli"]


def hidden_lines(name: str) -> set[str]:
    "Lines of the notebook's `#| hide` cells that appear in no other cell: none of them may reach the page."
    hidden, shown = set(), set()
    for c in cells(name):
        src = "".join(c["source"]).splitlines()
        target = hidden if src and re.match(r"#\|\s*hide\b", src[0]) else shown
        target.update(l.strip() for l in src if l.strip() and not l.startswith("#|"))
    return {l for l in hidden - shown if len(l) >= 10}


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    spec = importlib.util.spec_from_file_location("preview_docs", ROOT / "tools" / "preview_docs.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    out = tmp_path_factory.mktemp("pages")
    return {p.stem: p for p in mod.preview(PAGES, out)}


@pytest.mark.integration
def test_preview_pages_in_chromium(chromium, pages):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")
    proc = {n: json.loads((ROOT / "_proc" / f"{n}.ipynb").read_text())["cells"] for n in PAGES}
    shown_docs = lambda name: [m for c in proc[name] for m in re.findall(r"^show_doc\(([\w.]+)", "".join(c["source"]), re.M)]
    # what a reader opens first: the index with its picture, a library page with its API, the CLI tutorial with its figures
    assert len(shown_docs("00_data")) >= 5 and sum(images(c) for c in proc["tutorial_cli"]) >= 1
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = b.new_page()
        page.route(re.compile(r"^https?://"), lambda route: route.abort())  # the template's CDN scripts: no network here
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name in PAGES:
            page.goto(pages[name].as_uri())
            page.wait_for_load_state("load")
            body = page.inner_text("body")
            assert "#|" not in body, f"{name}: a cell directive reached the page"
            assert "```" not in body and "show_doc(" not in body and "nbdev_export" not in body, name
            leaked = [l for l in hidden_lines(f"{name}.ipynb") if l in body]
            assert leaked == [], f"{name}: hidden cells reached the page: {leaked[:3]}"

            widths = page.eval_on_selector_all("img", "els => els.map(e => e.complete ? e.naturalWidth : 0)")
            expected = sum(images(c) for c in proc[name]) + sum(len(re.findall(r"!\[", "".join(c["source"])))
                                                                  for c in proc[name] if c["cell_type"] == "markdown")
            assert len(widths) == expected and all(w > 0 for w in widths), f"{name}: images {widths}, expected {expected}"

            documented = shown_docs(name)
            headings = {h.replace("¶", "").strip() for h in page.locator("h3, h4").all_inner_texts()}
            missing = [d for d in documented if d.split(".")[-1] not in headings]
            assert missing == [], f"{name}: show_doc rendered no heading for {missing}"
            signatures = page.locator(".jp-RenderedMarkdown .highlight pre").count()
            assert signatures >= len(documented), f"{name}: {signatures} signatures for {len(documented)} show_doc cells"
        assert errors == [], errors
        b.close()
