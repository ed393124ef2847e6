"""The README's first command, `provision apply` with no inventory: interrupted once it has a sandbox,
then run again, it carries on to a working server (the demo under a name of this test run's own)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO, provision, sandbox_name

# It boots the demo through the CLI, which the marks' hook cannot see.
pytestmark = pytest.mark.sandbox

# `provision apply` as the README runs it, with the demo's name and inventory this run's own.
DRIVER = """
import sys
from pathlib import Path
from provision.commands import apply
apply.DEMO, apply.DEMO_INVENTORY = sys.argv[1], Path(sys.argv[2])
from provision.cli import main
sys.exit(main(["apply"]))
"""


def _demo(name: str, inventory: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", DRIVER, name, str(inventory)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_the_demo_interrupted_during_apply_runs_again_to_a_working_server(tmp_path):
    name = sandbox_name("demo")
    inventory = tmp_path / name  # its vault password file is named after it: this run's own too
    password_file = Path.home() / ".config/provision/vault" / f"{name}.password"
    try:
        first = _demo(name, inventory)
        watchdog = threading.Timer(900, first.kill)
        watchdog.start()
        said = []
        assert first.stderr is not None
        for line in first.stderr:
            said.append(line)
            if line.startswith("» "):  # the sandbox is up, the inventory written, Ansible at work
                first.send_signal(signal.SIGINT)
                break
        out, rest = first.communicate(timeout=120)
        watchdog.cancel()
        assert first.returncode == 130, "".join(said) + rest
        assert rest.splitlines()[-1] == "provision: interrupted"
        assert "FAILED" not in out
        # An older provision left the inventory without its vault when it failed: that is made anew too.
        (inventory / "group_vars/all/vault.yml").unlink()

        second = _demo(name, inventory)
        out, err = second.communicate(timeout=1800)
        assert second.returncode == 0, err + out
        assert "the demo inventory cannot be used" in err
        assert f"provision secret {inventory} vault_first_admin_password" in out
        assert not list(tmp_path.glob(f".{name}.*")), "a staging directory was left behind"
    finally:
        provision("sandbox", "down", name)
        shutil.rmtree(inventory, ignore_errors=True)
        password_file.unlink(missing_ok=True)
