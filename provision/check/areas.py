"""The areas of checks, each a tuple of check modules: the one place where areas are registered."""

from __future__ import annotations

from provision.check.context import CheckModule
from provision.check.dns import caa, dane, dkim, dmarc, dnsbl, dnssec, mta_sts, mx, ptr, spf, tlsrpt
from provision.check.host import backup, disk, drift, memory, queue, services, tls, updates
from provision.check.services import (
    caldav,
    certificate,
    imap,
    ldap,
    relay,
    smtp,
    submission,
    version,
    webmail,
)

AREAS: dict[str, tuple[CheckModule, ...]] = {
    "dns": (*(module.MODULE for module in (mx, spf, dkim)), dkim.SERVER_MODULE,
            *(module.MODULE for module in (dmarc, mta_sts, tlsrpt, ptr, caa, dnssec, dane, dnsbl))),
    "host": (services.MODULE, *disk.MODULES, *queue.MODULES, *updates.MODULES, memory.MODULE, tls.MODULE,
             drift.MODULE, *backup.MODULES),
    "services": tuple(module.MODULE for module in
                      (smtp, relay, submission, certificate, version, imap, caldav, webmail, ldap)),
}


def all_ids() -> list[str]:
    return [check_id for modules in AREAS.values() for module in modules for check_id in module.ids]
