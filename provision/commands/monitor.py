"""`provision monitor`: the consultant's monitor host watching the customer's server."""

from __future__ import annotations

import argparse
from pathlib import Path

from provision import remote
from provision.console import Console, table
from provision.errors import ExitStatus
from provision.inventory.load import load
from provision.monitor import api, host


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "monitor", parents=[common], help="the monitor host that watches the server and sends alerts",
        description="Prometheus, blackbox probes and Alertmanager on the monitor host named by "
                    "monitor_host in the inventory: they scrape the server's exporters, probe SMTP, "
                    "submission, IMAPS and HTTPS with their certificates, and mail "
                    "monitor_alert_recipients through monitor_smtp_smarthost when a rule fires. Exit "
                    "status 0: done, nothing fires; 1: the run failed or an alert fires; 2: bad usage "
                    "or inventory, nothing was touched.",
    )
    parser.add_argument("dir", metavar="DIR", type=Path, help="the customer's inventory directory")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    actions.add_parser("apply", parents=[common],
                       help="configure the monitor host to watch this customer's server"
                       ).set_defaults(handler=_apply)
    actions.add_parser("status", parents=[common],
                       help="the targets up or down and the alerts that fire, from the monitor host"
                       ).set_defaults(handler=_status)


def _apply(args: argparse.Namespace, console: Console) -> int:
    inventory = load(args.dir)
    monitor = host.monitor_host(inventory, for_apply=True)  # before anything is touched
    console.info(f"configuring the monitor host {monitor.address} to watch {inventory.host.address}")
    changed = host.apply(inventory, monitor, console)
    console.result({"status": "ok", "monitor_host": monitor.address, "changed": changed},
                   f"{monitor.address} watches {inventory.settings.hostname}; "
                   f"see provision monitor {args.dir} status")
    return ExitStatus.OK


def _status(args: argparse.Namespace, console: Console) -> int:
    inventory = load(args.dir)
    monitor = host.monitor_host(inventory)
    with remote.connect(monitor.login) as connection:
        found = api.status(connection)
    rows = [{**target, "state": "up" if target["up"] else "DOWN"} for target in found["targets"]]
    text = table(rows, [("customer", "customer"), ("target", "target"), ("instance", "instance"),
                        ("state", "state")]) if rows else "no targets yet"
    text += "\n\n" + (table(found["alerts"], [("alert", "alert"), ("severity", "severity"),
                                              ("since", "since"), ("summary", "summary")])
                      if found["alerts"] else "no alerts fire")
    console.result(found, text)
    return ExitStatus.FAILURE if found["alerts"] else ExitStatus.OK
