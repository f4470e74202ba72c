"""Run the notebooks and keep their outputs, so the docs pages (and GitHub) show their figures and tables.

The documentation is rendered from the committed notebooks with execution off (`nbs/_quarto.yml`), nbdev's usual
way: outputs are part of the source. After changing a notebook, run

    python tools/run_nbs.py nbs/06_viz.ipynb      # or no argument: every notebook
    nbdev-clean

It executes each notebook top to bottom in its own kernel from `nbs/` (as nbdev-test does) and writes it back with
its outputs; `nbdev-clean` then drops execution counts and metadata but keeps the outputs. Figures are PNGs at the
inline backend's 72 dpi; `tests/test_docs.py` keeps every notebook under its size budget. A notebook whose
front matter says `skip_exec: true` (the command-line tutorial) runs too: it is skipped only by nbdev-test. Cells
marked `#| eval: false` are not run, as in nbdev.
Nothing is downloaded: the tutorials use pbmc3k where `../shared` holds it, else the embedded PBMCs.
"""
import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NBS = Path(__file__).resolve().parents[1] / "nbs"
# what a kernel prints that no reader needs: tqdm's note that ipywidgets is missing (scanpy imports tqdm.auto)
NOISE = ("TqdmWarning: IProgress not found", "from .autonotebook import tqdm as notebook_tqdm")


def drop_noise(nb) -> None:
    "Remove the `NOISE` lines from the notebook's stream outputs, and outputs left empty."
    for cell in nb.cells:
        if cell.cell_type != "code": continue
        for out in cell.outputs:
            if out.output_type == "stream":
                out.text = "".join(l for l in out.text.splitlines(keepends=True) if not any(n in l for n in NOISE))
        cell.outputs = [o for o in cell.outputs if o.output_type != "stream" or o.text.strip()]


def run(path: Path, timeout: int = 3600) -> float:
    "Execute the notebook at `path` in place, from its folder; return the seconds it took."
    nb = nbformat.read(path, as_version=4)
    skipped = {}
    for i, cell in enumerate(nb.cells):  # a cell that no longer runs must not keep an old output
        if cell.cell_type != "code": continue
        cell.outputs, cell.execution_count = [], None
        if re.search(r"^#\|\s*eval:\s*false\s*$", cell.source, flags=re.M | re.I):  # nbdev's `#| eval: false`: not run
            skipped[i], cell.source = cell.source, ""
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    for i, source in skipped.items(): nb.cells[i].source, nb.cells[i].execution_count = source, None
    drop_noise(nb)
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(path)
    return time.perf_counter() - t0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: every notebook in nbs/)")
    args = ap.parse_args()
    paths = [p.resolve() for p in args.notebooks] or sorted(NBS.glob("*.ipynb"))
    for p in paths:
        secs = run(p)
        print(f"{p.relative_to(NBS.parent)}: {secs:.0f} s, {p.stat().st_size / 1e3:.0f} kB", flush=True)
    sys.exit(0)
