"""host.tls.files: the certificate file the services read is not about to expire."""

from __future__ import annotations

import datetime

from provision.check.context import CheckModule, Context
from provision.check.host import facts, result
from provision.check.model import Check, Status
from provision.inventory.model import TlsMode

FILES = "host.tls.files"
WARN_DAYS, CRIT_DAYS = 21, 7  # as the services area judges the certificate served; ACME renews at 30


def run(context: Context, domain: str) -> list[Check]:
    gathered = facts.gather(context, FILES)
    if isinstance(gathered, list):
        return gathered
    server, found = gathered.server, gathered.facts
    directory = server.inventory.directory
    renew = {
        TlsMode.ACME: f"see why certbot did not renew it: {server.shell('certbot renew')}",
        TlsMode.SELF_SIGNED: f"make a new one: provision apply {directory} --tags tls",
        TlsMode.FILES: f"put the renewed certificate in the inventory's tls_cert_file, then provision apply "
                       f"{directory} --tags tls",
    }[server.inventory.settings.tls_mode]
    expiry = found.certificate_expiry
    if expiry is None:
        return [result(FILES, Status.CRIT, found.problems["certificate"],
                       f"install it: provision apply {directory} --tags tls")]
    days = (expiry - datetime.datetime.now(datetime.UTC)).total_seconds() / 86400
    when = f"{facts.CERTIFICATE} expires {expiry:%Y-%m-%d %H:%M} UTC"
    if days < CRIT_DAYS:
        status = Status.CRIT
    elif days < WARN_DAYS:
        status = Status.WARN
    else:
        return [result(FILES, Status.OK, f"{when}, in {int(days)} days")]
    left = f"in {int(days)} days" if days >= 0 else "— it has expired"
    return [result(FILES, status, f"{when}, {left} (warn under {WARN_DAYS} days, critical under {CRIT_DAYS})",
                   renew)]


MODULE = CheckModule(FILES, (FILES,), run, per_domain=False)
