"""Prometheus's targets and Alertmanager's alerts, read on the monitor host through an SSH tunnel
(both listen on its loopback only)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from provision import remote
from provision.errors import ProvisionError

PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
UP = 'probe_success or up{job!="probe"}'


def status(connection: remote.Connection) -> dict[str, Any]:
    """The targets, up or down, and the alerts that fire (silenced or inhibited ones left out).

    A probe's scrape succeeds while what it probes fails: a service is up when its probe succeeds, an
    exporter when its scrape does."""
    with connection.forward(PROMETHEUS_PORT) as port:
        found = _get(port, "/api/v1/query?" + urllib.parse.urlencode({"query": UP}), "Prometheus")
    targets = [{"customer": series["metric"].get("customer", ""),
                "target": series["metric"].get("service") or series["metric"].get("exporter", ""),
                "instance": series["metric"].get("instance", ""), "up": series["value"][1] == "1"}
               for series in found["data"]["result"]]
    with connection.forward(ALERTMANAGER_PORT) as port:
        alerts = _get(port, "/api/v2/alerts?active=true&silenced=false&inhibited=false", "Alertmanager")
    firing = [{"alert": alert["labels"].get("alertname", ""), "customer": alert["labels"].get("customer", ""),
               "severity": alert["labels"].get("severity", ""), "since": alert.get("startsAt", ""),
               "summary": alert.get("annotations", {}).get("summary", "")} for alert in alerts]
    return {"targets": sorted(targets, key=lambda row: (row["customer"], row["target"], row["instance"])),
            "alerts": sorted(firing, key=lambda row: (row["customer"], row["alert"], row["summary"]))}


def _get(port: int, path: str, what: str) -> Any:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as answer:
            return json.load(answer)
    except (OSError, ValueError) as error:
        raise ProvisionError(f"{what} on the monitor host did not answer: {error}",
                             "run provision monitor DIR apply, then see journalctl -u prometheus "
                             "there") from None
