"The README is generated from nbs/index.ipynb, opens with the two set-up commands, and CI runs its test command."
import json
import re
import subprocess
import sys

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


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci
    marked = re.search(r"<!-- test-command -->\n```bash\n(.*?)\n```\n<!-- /test-command -->", README, flags=re.S)
    assert marked and marked.group(1) == _bash_blocks(README)[1].strip()


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
