"""The open-relay probe on ports 25 and 587: a stranger's RCPT TO a foreign domain must be refused.

The probe stops at RCPT and never sends DATA, so even an open relay queues nothing. Both addresses
are literals in TEST-NET-1 (RFC 5737): no DNS lookup can defer the answer, and nothing can be delivered.
"""

from __future__ import annotations

from provision.check.context import CheckModule, Context
from provision.check.model import Check, Status
from provision.check.services import each_server, failed, result
from provision.check.services.net import (
    SMTP,
    SUBMISSION,
    NoConnection,
    Server,
    ServiceError,
    Smtp,
    tls_context,
)

RELAY = "services.smtp.relay"
SENDER, RECIPIENT = "relay-test@[192.0.2.1]", "relay-test@[192.0.2.2]"
FIX = ("keep mynetworks to 127.0.0.0/8 [::1]/128 and smtpd_relay_restrictions = permit_mynetworks, "
       "permit_sasl_authenticated, reject_unauth_destination in Postfix (provision apply sets them)")


def run(context: Context, domain: str) -> list[Check]:
    return each_server(context, RELAY, _server)


def _server(context: Context, server: Server) -> list[Check]:
    return [_probe(server, port, context.options.timeout) for port in (SMTP, SUBMISSION)]


def _probe(server: Server, port: int, timeout: float) -> Check:
    where = server.at(port)
    try:
        with Smtp.open(server, port, timeout) as smtp:
            smtp.ehlo()
            if "STARTTLS" in smtp.features:
                smtp.starttls(tls_context(verify=False))
            sender = smtp.command(f"MAIL FROM:<{SENDER}>")
            recipient = smtp.command(f"RCPT TO:<{RECIPIENT}>") if sender.code // 100 == 2 else sender
            smtp.command("RSET")
    except NoConnection:
        return result(RELAY, Status.OK, f"{where} is closed: nothing to relay through")
    except ServiceError as error:
        return failed(RELAY, error, FIX)
    if recipient.code // 100 == 2:
        return result(RELAY, Status.CRIT, f"{where} is an open relay: it accepted mail from a stranger to a "
                      f"foreign domain ({recipient.text})", FIX)
    if recipient.code // 100 == 4:
        return result(RELAY, Status.UNKNOWN, f"{where} deferred the probe, so relaying is neither refused "
                      f"nor allowed: {recipient.text}", f"look at the server's mail log, then {FIX}")
    return result(RELAY, Status.OK, f"{where} refuses to relay: {recipient.text}")


MODULE = CheckModule("services.smtp.relay", (RELAY,), run, per_domain=False)
