"""Write README.md from nbs/index.ipynb (Quarto, which `nbdev-readme` needs, is not installable everywhere).

Markdown cells are copied as they are, with their relative links and images pointed into `nbs/` (where they
resolve from the notebook) so that they work from the repository root; code cells become ```python blocks;
cells marked `#| hide` are left out.
`python tools/make_readme.py` writes README.md; `--check` exits 1 if README.md differs from what it would write.
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_LINK = re.compile(r"(\]\()(?![a-z][a-z0-9+.-]*:|#|/)([^)\s]+)(\))")  # ](target) with a relative target

def render(nb_path=ROOT / "nbs" / "index.ipynb") -> str:
    cells = json.loads(Path(nb_path).read_text(encoding="utf-8"))["cells"]
    parts = ["<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->"]
    for c in cells:
        src = "".join(c["source"]).strip()
        lines = src.splitlines()
        dirs = [l for l in lines if l.startswith("#|")]
        if any(d.split()[1:2] == ["hide"] for d in dirs if len(d.split()) > 1) or any(d.strip() == "#| hide" for d in dirs):
            continue
        body = "\n".join(l for l in lines if not l.startswith("#|")).strip()
        if not body: continue
        parts.append(_LINK.sub(r"\1nbs/\2\3", body) if c["cell_type"] == "markdown" else f"```python\n{body}\n```")
    return "\n\n".join(parts) + "\n"

if __name__ == "__main__":
    text, out = render(), ROOT / "README.md"
    if "--check" in sys.argv:
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            sys.exit("README.md is out of date: run python tools/make_readme.py")
    else:
        out.write_text(text, encoding="utf-8")
