"The console script, run as a user would run it."
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cellvae.settings import PROFILE_KEYS

COMMANDS = ["inspect", "profile"]


CELLVAE = str(Path(sys.executable).parent / "cellvae")  # the installed console script, as users run it


def cellvae(*args, cwd=None, env=None):
    return subprocess.run([CELLVAE, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)


def test_version():
    r = cellvae("--version")
    assert r.returncode == 0 and r.stdout.startswith("cellvae ")


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_has_an_example(cmd):
    r = cellvae(cmd, "--help")
    assert r.returncode == 0 and "Example: cellvae" in r.stdout


def test_profile_writes_every_key(clean_env):
    r = cellvae("profile", cwd=clean_env)
    assert r.returncode == 0, r.stderr
    prof = yaml.safe_load((clean_env / "config.yml").read_text())
    assert list(prof) == list(PROFILE_KEYS)


def test_user_error_is_one_line_and_exit_1(clean_env):
    (clean_env / "x.h5ad").write_text("not hdf5")
    r = cellvae("inspect", "x.h5ad", cwd=clean_env)
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "x.h5ad" in r.stderr and "Traceback" not in r.stderr


def test_bad_environment_value_is_a_clear_error(clean_env):
    import os
    env = {**os.environ, "CELLVAE_TRAIN__MAX_EPOCHS": "ten"}
    r = cellvae("inspect", cwd=clean_env, env=env)
    assert r.returncode == 1 and "CELLVAE_TRAIN__MAX_EPOCHS" in r.stderr
