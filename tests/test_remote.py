"""provision.remote against a real sandbox: output of any size, stdin streamed, failures that say the fix."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from provision import remote
from provision.sandbox import machine
from tests.conftest import provision

T = TypeVar("T")
MB = 1 << 20
UNUSED = "198.51.100.254"  # in the sandbox network, where no sandbox is started


def bounded(work: Callable[[], T], seconds: float) -> T:
    """work's result, or a failure if it takes longer than seconds (a hang would stall the run)."""
    done: list[T] = []
    failed: list[BaseException] = []

    def target() -> None:
        try:
            done.append(work())
        except BaseException as error:  # handed to the test
            failed.append(error)
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if failed:
        raise failed[0]
    return done[0]


@pytest.fixture(scope="module")
def connection(sandbox):
    with remote.connect(remote.login_to_sandbox(machine.load(sandbox.name))) as connection:
        yield connection


def test_ten_megabytes_of_output_on_both_streams(connection):
    # More than the SSH window on stdout and on stderr at once: a reader that waited for the exit
    # status, or read one stream to its end first, would wait for ever.
    script = "head -c 10485760 /dev/zero | tr '\\0' o; head -c 10485760 /dev/zero | tr '\\0' e >&2; exit 3"
    done = bounded(lambda: connection.run(["sh", "-c", script], check=False), 120)
    assert done.status == 3
    assert done.stdout == b"o" * (10 * MB)
    assert done.stderr == b"e" * (10 * MB)


def test_stdin_streams_while_output_comes_back(connection):
    data = bytes(range(256)) * (40 * 1024)  # 10 MB, every byte value
    done = bounded(lambda: connection.run(["cat"], stdin=data), 120)
    assert hashlib.sha256(done.stdout).digest() == hashlib.sha256(data).digest()


def test_arguments_arrive_exactly(connection):
    argv = ["printf", "%s|", "two words", "it's", "$HOME", "a;b"]
    assert connection.run(argv).text == "two words|it's|$HOME|a;b|"


def test_a_failed_command_says_where_and_why(connection):
    with pytest.raises(remote.CommandFailed) as failed:
        connection.run(["ls", "/no/such/path"], hint="see whether the path exists")
    assert failed.value.message.startswith(f"on {connection.login.address}: ls failed (exit 2): ")
    assert "/no/such/path" in failed.value.message
    assert failed.value.hint == "see whether the path exists"


def test_a_sandbox_that_does_not_answer_names_the_key_and_the_fix(sandbox):
    box = machine.load(sandbox.name)
    login = dataclasses.replace(remote.login_to_sandbox(box), address=UNUSED)
    with pytest.raises(remote.Unreachable) as unreachable:
        bounded(lambda: remote.connect(login, timeout=5), 60)
    assert str(box.directory / "id_ed25519") in unreachable.value.message
    assert UNUSED in unreachable.value.message
    assert unreachable.value.hint == (f"`provision sandbox list` shows whether {box.name} runs; if not: "
                                      f"provision sandbox down {box.name}, then up again and apply")


def test_an_inventory_without_its_sandbox_says_how_to_start_one(tmp_path):
    directory, password = tmp_path / "customer", tmp_path / "vault.password"
    password.write_text("test vault password\n")
    env = {"PROVISION_VAULT_PASSWORD_FILE": str(password)}
    init = provision("init", str(directory), "--domain", "example.test", "--hostname", "mail.example.test",
                     "--host", UNUSED, "--sandbox", env=env)
    assert init.returncode == 0, init.stderr
    listed = provision("users", "list", str(directory), env=env, timeout=120)
    assert listed.returncode == 1
    assert listed.stderr.splitlines() == [
        f"provision: no sandbox has the address {UNUSED}",
        "provision: hint: start one with `provision sandbox up NAME` (`provision sandbox list` shows them), "
        "put its address in the inventory and run `provision apply`"]


def test_a_login_that_is_not_root_runs_commands_through_sudo(sandbox, connection):
    install = "apt-get install -y -q sudo"
    connection.run(["sh", "-c", f"({install} || (apt-get update -q && {install})) >/dev/null && "
                    "useradd -m deploy && install -d -o deploy -m 700 ~deploy/.ssh && "
                    "install -o deploy -m 600 /root/.ssh/authorized_keys ~deploy/.ssh/ && "
                    "echo 'deploy ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/deploy"], timeout=300)
    try:
        login = dataclasses.replace(remote.login_to_sandbox(machine.load(sandbox.name)), user="deploy")
        with remote.connect(login) as deploy:
            assert deploy.run(["id", "-un"]).text == "root\n"
            assert deploy.run(["cat"], stdin=b"fed through sudo").text == "fed through sudo"
    finally:
        # -f: the session just closed may still be ending; sudo's removal asks for a root password else
        connection.run(["sh", "-c", "userdel -r -f deploy; rm -f /etc/sudoers.d/deploy; "
                        "SUDO_FORCE_REMOVE=yes apt-get purge -y -q sudo >/dev/null"], timeout=300)
