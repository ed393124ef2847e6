"""Run a playbook with ansible-runner and turn its events into progress and a summary.

ansible-runner rather than a bare ansible-playbook subprocess: it hands over
structured job events (task starts, per-host results with diffs, the final
stats) without a callback plugin of our own, and it can time out or cancel a run.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import shlex
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

from provision import files
from provision.ansible import PLAYBOOKS, TEMPLATES
from provision.console import Console
from provision.errors import ProblemsError, ProvisionError
from provision.inventory import VAULT_FILE, vault
from provision.inventory.model import Host, Inventory
from provision.process import search_path

STAT_KEYS = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")


@dataclass
class Outcome:
    status: str
    stats: dict[str, dict[str, int]]  # host -> ok/changed/failed/unreachable/skipped
    changed_tasks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> task -> result, if collected

    @property
    def failed(self) -> bool:
        """Failed: the run, any host, or no host at all (a --limit that matched nothing)."""
        return self.status != "successful" or not self.stats or any(
            host["failed"] or host["unreachable"] for host in self.stats.values())


@dataclass(frozen=True)
class Target:
    """One customer's server in a run: how to reach it, its variables, its vault and its own templates.

    Ansible reads none of the customer's files as an inventory (it would template every value in them,
    and load any vars file lying beside them): it gets the host provision checked, the variables as
    host variables tagged !unsafe, and a copy of the encrypted vault.
    """

    name: str  # the host's name in this run
    host: Host
    hostvars: dict[str, Any]
    customer: str | None = None  # in a fleet run: the host's group is customer_CUSTOMER
    vault_file: Path | None = None
    vault_password_file: Path | None = None
    layers: tuple[Path, ...] = ()  # the consultant's and the customer's directories, the lowest first:
    # their templates/ replace ours, their hooks/STAGE.d/*.yml run at that point of the play

    @classmethod
    def of(cls, inventory: Inventory, hostvars: dict[str, Any], customer: str | None = None,
           secrets: bool = True) -> Target:
        """The inventory's server; without secrets, no vault (render's placeholders stand for it)."""
        directory = inventory.directory
        return cls(name=customer or inventory.host.name, host=inventory.host, hostvars=hostvars,
                   customer=customer, vault_file=directory / VAULT_FILE if secrets else None,
                   vault_password_file=vault.password_file(directory) if secrets else None,
                   layers=inventory.layers)


@dataclass
class Playbook:
    name: str  # file under playbooks/
    targets: list[Target]
    extravars: dict[str, Any] = field(default_factory=dict)  # the same for every host
    check: bool = False
    diff: bool = False
    limit: str | None = None
    tags: str | None = None
    forks: int | None = None
    collect: bool = False  # keep each task's result (small playbooks that report what they found)

    @classmethod
    def for_inventory(cls, name: str, inventory: Inventory, hostvars: dict[str, Any], secrets: bool = True,
                      **options: Any) -> Playbook:
        """A run against one customer's inventory."""
        return cls(name=name, targets=[Target.of(inventory, hostvars, secrets=secrets)], **options)

    def cmdline(self, hosts: Path) -> str:
        # Absolute paths: ansible-playbook runs in the project directory, not the caller's.
        words = [f"--inventory={hosts}"]
        password_files = dict.fromkeys(target.vault_password_file.absolute() for target in self.targets
                                       if target.vault_password_file)
        words += [f"--vault-id=customer{number}@{path}" for number, path in enumerate(password_files)]
        words += [flag for flag, on in (("--check", self.check), ("--diff", self.diff)) if on]
        words += [f"--{option}={value}" for option, value in
                  (("limit", self.limit), ("tags", self.tags), ("forks", self.forks)) if value]
        # ansible-runner splits cmdline with shlex: paths with spaces must survive that.
        return shlex.join(words)


def run(playbook: Playbook, console: Console) -> Outcome:
    """Run the playbook; Ctrl-C stops it and raises KeyboardInterrupt (exit 130), not a failed Outcome."""
    progress = _Progress(console, show_diff=playbook.diff, collect=playbook.collect)
    with tempfile.TemporaryDirectory(prefix="provision-run-") as private, _interruptible() as interrupted:
        playbooks = project(Path(private))
        # ansible-runner passes env/extravars as -e @FILE; a dict it would put on the command line.
        (Path(private) / "env").mkdir()
        (Path(private) / "env/extravars").write_text(unsafe_yaml(playbook.extravars))
        hosts = inventory(Path(private), playbook.targets)
        result = ansible_runner.run(
            private_data_dir=private,
            project_dir=str(playbooks),
            playbook=str(playbooks / playbook.name),
            cmdline=playbook.cmdline(hosts),
            envvars={"ANSIBLE_CONFIG": str(playbooks / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                     "PATH": search_path()},
            event_handler=progress,
            cancel_callback=interrupted,
            quiet=True,
            verbosity=max(0, console.verbosity - 1),
        )
        stats = result.stats or {}
        if interrupted():
            raise KeyboardInterrupt
    return Outcome(status=result.status, stats=_per_host(stats), changed_tasks=progress.changed,
                   failures=progress.failures, results=progress.results)


def run_or_raise(playbook: Playbook, console: Console) -> Outcome:
    """Run the playbook; ProvisionError naming the hosts and the failures when it fails."""
    outcome = run(playbook, console)
    if outcome.failed:
        hosts = ", ".join(target.host.address for target in playbook.targets)
        raise ProvisionError(f"{playbook.name} failed on {hosts}: "
                             + ("; ".join(outcome.failures) or outcome.status))
    return outcome


def inventory(directory: Path, targets: list[Target]) -> Path:
    """The run's own inventory: hosts.yml with each host's variables (in a fleet run, a group per
    customer), each host's vault beside it, and the template layers and hooks copied in for the roles
    to find (host variables provision_template_layers and hooks_files)."""
    hosts_file = directory / "inventory/hosts.yml"
    hosts_file.parent.mkdir()
    copies: dict[Path, Path] = {}
    hosts: dict[str, dict[str, Any]] = {}
    for target in targets:
        # Each directory copied once however many hosts share it (the consultant's).
        copied = [copies[layer] if layer in copies else copies.setdefault(
            layer, _copy_tree(layer, directory / f"layers/{len(copies)}")) for layer in target.layers]
        hooks: dict[str, list[str]] = {}
        for layer in copied:
            for stage in sorted((layer / "hooks").glob("*.d")):
                hooks.setdefault(stage.name.removesuffix(".d"), []).extend(
                    str(task) for task in sorted(stage.glob("*.yml")))
        hosts[target.name] = {**target.hostvars, "ansible_host": target.host.address,
                              "ansible_user": target.host.user, "hooks_files": hooks,
                              "hooks_extra_role_paths": _extra_roles(target, copied),
                              "provision_template_layers": [str(layer / "templates") for layer in copied]}
        if target.vault_file:
            own = directory / "inventory/host_vars" / target.name / "vault.yml"
            own.parent.mkdir(parents=True)
            shutil.copyfile(target.vault_file, own)
    groups: dict[str, dict[str, Any]] = {}
    for target in targets:
        if target.customer:  # customer_NAME: a group named as its host would make Ansible warn
            group = "customer_" + re.sub(r"\W", "_", target.customer)
            groups.setdefault(group, {"hosts": {}})["hosts"][target.name] = hosts.pop(target.name)
    hosts_file.write_text(unsafe_yaml({"all": {"hosts": hosts, "children": groups}}))
    return hosts_file


def project(directory: Path) -> Path:
    """The playbooks and templates for one run.

    Each role reaches its templates through a link to templates/ROLE, made here rather than copied: an
    installed provision has no such links (a wheel holds files only).
    """
    playbooks, templates = directory / "project/playbooks", directory / "project/templates"
    shutil.copytree(PLAYBOOKS, playbooks, ignore=_role_template_links)
    shutil.copytree(TEMPLATES, templates, ignore=shutil.ignore_patterns("__pycache__"))
    for role in (playbooks / "roles").iterdir():
        if (templates / role.name).is_dir() and not (role / "templates").exists():
            (role / "templates").symlink_to(Path("../../../templates") / role.name)
    return playbooks


def _extra_roles(target: Target, copied: list[Path]) -> list[str]:
    """Where the roles named in hooks_extra_roles are, the customer's own before the consultant's."""
    names = target.hostvars.get("hooks_extra_roles") or []
    paths, missing = [], []
    for name in names:
        found = [layer / "roles" / str(name) for layer in reversed(copied)
                 if "/" not in str(name) and (layer / "roles" / str(name) / "tasks/main.yml").is_file()]
        if found:
            paths.append(str(found[0]))
        else:
            missing.append(f"{target.name}: hooks_extra_roles: {name} is not a role in roles/ of "
                           f"{' or '.join(str(layer) for layer in target.layers)} (hint: put it in "
                           f"roles/{name}/tasks/main.yml there)")
    if missing:
        raise ProblemsError("extra roles are missing; nothing was run", missing)
    return paths


def _copy_tree(layer: Path, target: Path) -> Path:
    """A consultant's or customer's templates/, hooks/ and roles/, copied for the run. A link among them would
    copy whatever it points at (a key, /etc/shadow) to the server."""
    for part in ("templates", "hooks", "roles"):
        source = layer / part
        if source.is_symlink():
            raise files.Refused(source, files.LINK, "keep it in the directory itself")
        if not source.is_dir():
            continue
        found, problems = files.walk(source)
        if problems:
            raise ProblemsError(f"{source}: links or special files; nothing was run", problems)
        for relative in found:
            copy = target / part / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            with os.fdopen(files.open_beneath(source, relative), "rb") as stream:
                copy.write_bytes(stream.read())
    return target


@contextlib.contextmanager
def _interruptible() -> Iterator[Callable[[], bool]]:
    """Whether Ctrl-C was pressed, for ansible-runner to stop the playbook it polls this with.

    Given no such callback, ansible-runner would install its own SIGINT handler for good and report the
    stopped run as merely failed; ours is put back as it was once the run is over.
    """
    pressed = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.set())
    try:
        yield pressed.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def _role_template_links(current: str, names: list[str]) -> list[str]:
    here = Path(current)
    return [name for name in names if name == "__pycache__"
            or (name == "templates" and here.parent.name == "roles" and (here / name).is_symlink())]


class _UnsafeDumper(yaml.SafeDumper):
    """Every string value tagged !unsafe: Ansible then never templates it, so a value from an
    inventory or the command line is data, even if it holds {{ lookup('pipe', ...) }}."""


class _Name(str):
    """A mapping key: a variable or field name, which stays a plain string."""


_UnsafeDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar("!unsafe", value))
_UnsafeDumper.add_representer(_Name, lambda dumper, value: dumper.represent_str(str(value)))


def unsafe_yaml(data: Any) -> str:
    def tagged(value: Any) -> Any:
        if isinstance(value, dict):
            return {_Name(key): tagged(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [tagged(item) for item in value]
        return value
    return yaml.dump(tagged(data), Dumper=_UnsafeDumper, sort_keys=True)


class _Progress:
    """Prints one line per role as it starts, and what changed or failed."""

    def __init__(self, console: Console, show_diff: bool, collect: bool = False):
        self.console, self.show_diff, self.collect = console, show_diff, collect
        self.results: dict[str, dict[str, Any]] = {}
        self.role: str | None = None
        self.changed: list[str] = []
        self.failures: list[str] = []

    def __call__(self, event: dict[str, Any]) -> bool:
        data = event.get("event_data", {})
        handler: Callable[[dict[str, Any], dict[str, Any]], None] | None = getattr(
            self, "_" + event.get("event", ""), None)
        if handler:
            handler(event, data)
        if self.console.verbosity >= 2 and event.get("stdout"):
            self.console.detail(event["stdout"])
        return True  # keep the event in the runner's record too

    def _playbook_on_task_start(self, event: dict[str, Any], data: dict[str, Any]) -> None:
        role = data.get("role") or "play"
        if role != self.role and role != "hooks":  # a hook point says nothing unless it runs a hook
            self.role = role
            self.console.info(f"» {role}")
        self.console.detail(f"  {data.get('task', '')}")

    def _runner_on_ok(self, event: dict[str, Any], data: dict[str, Any]) -> None:
        if self.collect:
            self.results.setdefault(str(data.get("host")), {})[str(data.get("task"))] = data.get("res", {})
        if data.get("res", {}).get("changed"):
            line = f"{data.get('host')}: {data.get('task')}"
            self.changed.append(line)
            self.console.info(f"  changed  {line}")
            self._diff(data["res"])

    def _runner_item_on_ok(self, event: dict[str, Any], data: dict[str, Any]) -> None:
        if data.get("res", {}).get("changed"):
            self._diff(data["res"])

    def _diff(self, result: dict[str, Any]) -> None:
        if not self.show_diff:
            return
        diffs = result.get("diff") or []
        for diff in diffs if isinstance(diffs, list) else [diffs]:
            before, after = diff.get("before"), diff.get("after")
            if isinstance(before, str) and isinstance(after, str):
                self.console.info("".join(difflib.unified_diff(
                    before.splitlines(keepends=True), after.splitlines(keepends=True),
                    fromfile=str(diff.get("before_header", "before")),
                    tofile=str(diff.get("after_header", "after")))).rstrip())

    def _runner_on_failed(self, event: dict[str, Any], data: dict[str, Any]) -> None:
        if data.get("ignore_errors"):
            return
        result = data.get("res", {})
        # A loop fails as a whole; the reason is in the items that failed.
        failed_items = [item for item in result.get("results", []) if item.get("failed")]
        reason = "; ".join(_reason(item) for item in failed_items) or _reason(result)
        line = f"{data.get('host')}: {data.get('task')}: {reason}"
        self.failures.append(line)
        self.console.info(f"  FAILED   {line}")

    def _runner_on_unreachable(self, event: dict[str, Any], data: dict[str, Any]) -> None:
        message = data.get("res", {}).get("msg") or "unreachable"
        line = f"{data.get('host')}: unreachable: {str(message).strip()}"
        self.failures.append(line)
        self.console.info(f"  FAILED   {line}")


def _reason(result: dict[str, Any]) -> str:
    """The first line of what a failed task said, with its error output."""
    said = " ".join(str(result.get(key) or "").strip() for key in ("msg", "stderr")).strip()
    lines = [line for line in said.splitlines() if line.strip()]
    return lines[0] if len(lines) == 1 else " / ".join(lines[:3]) if lines else "failed"


def _per_host(stats: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    hosts = sorted({host for key in STAT_KEYS for host in stats.get(key, {})})
    return {host: {"ok": stats.get("ok", {}).get(host, 0),
                   "changed": stats.get("changed", {}).get(host, 0),
                   "failed": stats.get("failures", {}).get(host, 0),
                   "unreachable": stats.get("dark", {}).get(host, 0),
                   "skipped": stats.get("skipped", {}).get(host, 0)}
            for host in hosts}

