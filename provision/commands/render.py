"""`provision render`: every config file of a customer's server, rendered locally for review."""

from __future__ import annotations

import argparse
from pathlib import Path

from provision import files
from provision.ansible import placeholders
from provision.ansible.run import Playbook, run
from provision.commands.fleet import fleet_options, run_fleet
from provision.console import Console
from provision.errors import ExitStatus, UsageError
from provision.inventory import vault
from provision.inventory.fleet import is_fleet, load_fleet
from provision.inventory.load import load


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "render", parents=[common], help="render every config file locally, for review and diffing",
        description="Render every config file `provision apply` would write, into OUT/HOST/ROLE/PATH, "
                    "without contacting the host. Secrets appear as <vault_NAME> placeholders.",
    )
    parser.add_argument("dir", metavar="DIR", type=Path,
                        help="the customer's inventory directory, or a fleet directory (files go to "
                             "OUT/CUSTOMER/)")
    parser.add_argument("out", metavar="OUT", type=Path, help="where to write the files (new or empty)")
    fleet_options(parser)
    parser.set_defaults(handler=_render)


def _render(args: argparse.Namespace, console: Console) -> int:
    fleet = load_fleet(args.dir, args.customers) if is_fleet(args.dir) else None
    inventory = None if fleet else load(args.dir)
    out: Path = files.not_a_link(args.out.absolute())
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not empty", hint="give a new or empty directory")
    out.mkdir(parents=True, exist_ok=True)
    if fleet:
        return run_fleet(fleet, "render.yml", args, console, out=out)
    assert inventory is not None
    outcome = run(Playbook.for_inventory(
        "render.yml", inventory,
        {**inventory.ansible_vars(), **placeholders.for_secrets(vault.read(args.dir))},
        secrets=False, extravars={"provision_render_dir": str(out)},
    ), console)
    written = sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file())
    console.result({"status": "failed" if outcome.failed else "ok", "directory": str(out),
                    "files": written, "failures": outcome.failures},
                   "FAILED" if outcome.failed else "\n".join([*written, f"{len(written)} files in {out}"]))
    return ExitStatus.FAILURE if outcome.failed else ExitStatus.OK

