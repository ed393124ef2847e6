"""`provision render`: every config file of a customer's server, rendered locally for review."""

from __future__ import annotations

import argparse
from pathlib import Path

from provision import files
from provision.ansible import overrides, placeholders
from provision.ansible.run import Playbook, run
from provision.commands.fleet import fleet_options, run_fleet
from provision.console import Console
from provision.errors import ExitStatus, UsageError
from provision.inventory import CUSTOMERS_DIR, vault
from provision.inventory.fleet import is_fleet, load_fleet
from provision.inventory.load import consultant_of, load


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "render", parents=[common], help="render every config file locally, for review and diffing",
        description="Render every config file `provision apply` would write, into OUT/HOST/ROLE/PATH, "
                    "without contacting the host. Secrets appear as <vault_NAME> placeholders.",
    )
    parser.add_argument("dir", metavar="DIR", type=Path,
                        help="the customer's inventory directory, or a fleet directory (files go to "
                             "OUT/CUSTOMER/)")
    parser.add_argument("out", metavar="OUT", type=Path, nargs="?",
                        help="where to write the files (new or empty); not with --overrides")
    parser.add_argument("--overrides", action="store_true",
                        help="render nothing: show, for each template DIR overrides, what changed in the "
                             "shipped one since it was copied (provision templates copy) and what the copy "
                             "changes")
    fleet_options(parser)
    parser.set_defaults(handler=_render)


def _render(args: argparse.Namespace, console: Console) -> int:
    if args.overrides:
        return _overrides(args, console)
    if args.out is None:
        raise UsageError("give OUT, the directory to render into", hint="or --overrides to compare templates")
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



def _overrides(args: argparse.Namespace, console: Console) -> int:
    """Each override of the consultant and the customers: upstream's change since the copy, and its own."""
    if is_fleet(args.dir):
        layers = [args.dir, *sorted(path for path in (args.dir / CUSTOMERS_DIR).glob("*") if path.is_dir())]
    else:
        layers = [layer for layer in (consultant_of(args.dir), args.dir) if layer]
    found = [override for layer in layers for override in overrides.report(layer)]
    stale = [override for override in found if override.status != "current"]
    text = "\n".join(f"{o.path}: {o.status}" + (f"\n{o.upstream}" if o.upstream else "")
                     + (f"\n{o.local}" if o.local else "") for o in found)
    console.result([{"template": o.template, "override": str(o.path), "status": o.status,
                     "upstream_diff": o.upstream, "override_diff": o.local} for o in found],
                   (text + "\n" if text else "") + f"{len(found)} override(s), {len(stale)} to review")
    return ExitStatus.FAILURE if stale else ExitStatus.OK
