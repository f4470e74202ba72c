"The README is generated from nbs/index.ipynb, opens with the two set-up commands, and CI runs its test command."
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks(text):
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_readme_is_generated_from_index():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "make_readme.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_readme_commands_are_in_index():
    cells = json.loads((ROOT / "nbs" / "index.ipynb").read_text())["cells"]
    index_text = "\n".join("".join(c["source"]) for c in cells)
    for block in _bash_blocks(README):
        for line in block.strip().splitlines():
            assert line.split("#")[0].strip() in index_text


def test_two_setup_commands_install_torch_first():
    main, tests = [b.strip() for b in _bash_blocks(README)[:2]]
    for cmd in (main, tests):
        assert len(cmd.splitlines()) == 1
        steps = cmd.split(" && ")
        torch_step = next(i for i, s in enumerate(steps) if "torch==2.13.0" in s)
        install_step = next(i for i, s in enumerate(steps) if "pip install -e" in s)
        assert torch_step < install_step
    assert "cellvae" in main.split(" && ")[-1]
    assert ".ci/test" in tests


def test_ci_runs_the_readme_first_and_test_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    for i, marker in enumerate(("first-command", "test-command")):
        assert f"readme_block {marker}" in ci
        marked = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)\n```\n<!-- /{marker} -->", README, flags=re.S)
        assert marked and marked.group(1) == _bash_blocks(README)[i].strip()
    assert "[dev]" not in _bash_blocks(README)[0]  # the first command is a user's: no development extra


def _python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.integration
def test_readme_python_quick_start_runs_as_written(tmp_path):
    "Every python block of the README, pasted as it is into a fresh Python session (here a new process)."
    code = "\n".join(_python_blocks(README))
    assert "import cellvae" in code and "encode_adata" in code
    env = {**os.environ, "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 0.3 < float(r.stdout.split()[-1]) <= 1.0  # the kNN F1-macro it prints
    assert {p.name for p in tmp_path.iterdir()} == {"encoder.onnx", "encoder.genes", "cluster.onnx"}


def test_readme_links_resolve_from_the_repository_root():
    for target in re.findall(r"\]\(([^)\s]+)\)", README):
        if not re.match(r"[a-z]+:|#", target): assert (ROOT / target).exists(), target


def test_no_settings_ini_and_nbdev_config_in_pyproject():
    assert not (ROOT / "settings.ini").exists()
    import tomllib
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    nb = cfg["tool"]["nbdev"]
    assert set(nb["tst_flags"].split()) >= {"notest", "slow"}
    assert "tags" in nb["allowed_cell_metadata_keys"]
    torch_req = next(d for d in cfg["project"]["dependencies"] if d.startswith("torch"))
    from packaging.specifiers import SpecifierSet
    assert "2.13.0" in SpecifierSet(torch_req[len("torch"):])
