"nbdev's GitHub workflows cannot run here: their structure and the commands they call are checked instead."
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    w = yaml.safe_load((WORKFLOWS / name).read_text())
    w["on"] = w.pop(True, w.get("on"))  # YAML 1.1 reads the key `on` as True
    return w


def commands(job: dict) -> list[str]:
    return [s["run"] for s in job["steps"] if "run" in s]


def torch_first(job: dict):
    "torch==2.13.0 is installed before anything else that could pull a torch (as the README's set-up line does)."
    lines = [l.strip() for c in commands(job) for l in c.splitlines() if "pip install" in l or ".ci/run" in l]
    assert lines and "torch==2.13.0" in lines[0], lines
    assert "cpu" in job.get("env", {}).get("PIP_EXTRA_INDEX_URL", ""), "torch's CPU index, so GitHub's runner takes the CPU build"


def test_test_workflow_runs_ci_on_push_and_pull_request():
    w = load("test.yaml")
    assert {"push", "pull_request"} <= set(w["on"])
    (job,) = w["jobs"].values()
    torch_first(job)
    assert any("bash .ci/run" in c for c in commands(job))
    assert job["timeout-minutes"] <= 90
    assert "actions/checkout@v4" in [s.get("uses") for s in job["steps"]]


def test_deploy_workflow_builds_the_site_with_nbdev_and_publishes_it():
    w = load("deploy.yaml")
    assert w["on"]["push"]["branches"] == ["main"] and "pages" in w["permissions"]
    (job,) = w["jobs"].values()
    torch_first(job)
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("quarto-dev/quarto-actions/setup") for u in uses)
    assert any(c.strip() == "nbdev-docs" for c in commands(job))
    publish = next(s for s in job["steps"] if s.get("uses", "").startswith("peaceiris/actions-gh-pages"))
    assert publish["with"]["publish_dir"].strip("./") == "_docs"
    import tomllib
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["nbdev"]["doc_path"] == "_docs"
