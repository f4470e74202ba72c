"""Preview the documentation pages without Quarto: `nbdev-proc-nbs`, then nbconvert to HTML.

    python tools/preview_docs.py                        # every page, into _preview/
    python tools/preview_docs.py index 00_data tutorial_cli --out /tmp/pages

The site itself is Quarto's (`nbdev-docs`, where Quarto is installed; `.github/workflows/deploy.yaml` publishes
it). This is a check of what Quarto is given: the notebooks as nbdev processes them (`_proc/`: hidden cells and
exported code removed, `show_doc` tables executed), with their committed outputs. The few cell options Quarto
itself would apply (`echo`, `output`, `include`) are applied here the same way; any other `#|` line is left in
the page, where `tests/test_docs.py` finds it. Images are embedded, so each page is one file that opens offline.
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

ROOT = Path(__file__).resolve().parents[1]
QUARTO_OPTION = re.compile(r"^#\|\s*(echo|output|include|eval|warning|error|code-fold|code-summary|label|fig-cap)\s*:\s*(.*?)\s*$")
PANDOC_ATTRS = re.compile(r"\{(?:target|style|\.)[^{}\n]*\}")  # `[source](url){target="_blank" ...}`: Pandoc syntax
IPYNB_LINK = re.compile(r"\]\(([^)\s]+?)\.ipynb(#[^)]*)?\)")


def quarto_options(source: str) -> tuple[dict, str]:
    "Split a code cell's leading Quarto options (`#| echo: false`) from the rest of its source."
    lines, opts = source.splitlines(), {}
    while lines and (m := QUARTO_OPTION.match(lines[0])):
        opts[m[1]] = m[2].lower()
        lines.pop(0)
    return opts, "\n".join(lines)


def as_quarto_would(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    "Apply the front matter and the cell options as Quarto renders them; links to notebooks become links to pages."
    cells = []
    for cell in nb.cells:
        for key in set(cell) - {"cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments"}:
            del cell[key]  # nbdev's bookkeeping (`has_sd`), which nbformat's schema refuses
        cell.metadata = nbformat.NotebookNode({k: v for k, v in cell.metadata.items() if k == "tags"})
        if cell.cell_type == "raw" and cell.source.startswith("---"):
            front = yaml.safe_load(cell.source.strip().strip("-")) or {}
            head = f"# {front.get('title', '')}\n\n" + (f"*{front['description']}*" if front.get("description") else "")
            cells.append(nbformat.v4.new_markdown_cell(head))
            continue
        if cell.cell_type == "markdown":
            cell.source = IPYNB_LINK.sub(lambda m: f"]({m[1]}.html{m[2] or ''})", cell.source)
        if cell.cell_type == "code":
            opts, cell.source = quarto_options(cell.source)
            if opts.get("include") == "false":
                continue
            if opts.get("echo") == "false":
                cell.metadata.setdefault("tags", []).append("remove_input")
            if opts.get("output") == "false":
                cell.outputs = []
            for out in cell.get("outputs", []):
                if "text/markdown" in out.get("data", {}):
                    md = PANDOC_ATTRS.sub("", out.data["text/markdown"])
                    out.data["text/markdown"] = IPYNB_LINK.sub(lambda m: f"]({m[1]}.html{m[2] or ''})", md)
        cells.append(cell)
    nb.cells = cells
    return nb


def render(proc: Path, out: Path) -> Path:
    "One processed notebook to one self-contained HTML page in `out`."
    nb = as_quarto_would(nbformat.read(proc, as_version=4))
    exporter = HTMLExporter(template_name="lab", embed_images=True, exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove_input"}), enabled=True)
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(proc.parent), "name": proc.stem}})
    page = out / f"{proc.stem}.html"
    page.write_text(html, encoding="utf-8")
    return page


def preview(pages: list[str] | None = None, out: Path = ROOT / "_preview", proc: bool = True) -> list[Path]:
    "Process the notebooks (`nbdev-proc-nbs`) and render `pages` (notebook names; default all) into `out`."
    if proc:
        subprocess.run(["nbdev-proc-nbs"], cwd=ROOT, check=True, capture_output=True, text=True)
    procd = ROOT / "_proc"
    names = pages or sorted(p.stem for p in procd.glob("*.ipynb"))
    missing = [n for n in names if not (procd / f"{n}.ipynb").exists()]
    if missing:
        raise SystemExit(f"no notebook {', '.join(missing)} in nbs/ (pages are notebook names without .ipynb)")
    out.mkdir(parents=True, exist_ok=True)
    return [render(procd / f"{n}.ipynb", out) for n in names]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="*", help="notebook names without .ipynb (default: every notebook)")
    ap.add_argument("--out", type=Path, default=ROOT / "_preview", help="folder for the HTML pages (default: _preview/)")
    ap.add_argument("--no-proc", action="store_true", help="reuse _proc/ from an earlier nbdev-proc-nbs")
    args = ap.parse_args()
    for page in preview(args.pages, args.out, proc=not args.no_proc):
        print(page)
    sys.exit(0)
