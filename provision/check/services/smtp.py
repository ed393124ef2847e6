"""Port 25 as senders see it: the greeting and EHLO name, STARTTLS, and no AUTH before TLS."""

from __future__ import annotations

from provision.check.context import CheckModule, Context
from provision.check.model import Check, Status
from provision.check.services import each_server, failed, result
from provision.check.services.net import SMTP, Reply, Server, ServiceError, Smtp, tls_context

BANNER, AUTH, STARTTLS = "services.smtp.banner", "services.smtp.auth", "services.smtp.starttls"
FIXES = {
    BANNER: "make Postfix listen on port 25 and open port 25 in the firewall (provision apply does both)",
    AUTH: "set smtpd_tls_auth_only = yes in Postfix's main.cf (provision apply sets it)",
    STARTTLS: "set smtpd_tls_security_level = may and a certificate in Postfix's main.cf (provision apply)",
}


def run(context: Context, domain: str) -> list[Check]:
    return each_server(context, BANNER, _server)


def _server(context: Context, server: Server) -> list[Check]:
    checks: list[Check] = []
    try:
        with Smtp.open(server, SMTP, context.options.timeout) as smtp:
            checks.append(_banner(server, smtp.greeting, smtp.ehlo()))
            checks.append(_auth(server, smtp))
            checks.append(_starttls(server, smtp))
    except ServiceError as error:
        step = (BANNER, AUTH, STARTTLS)[len(checks)]
        checks.append(failed(step, error, FIXES[step]))
    return checks


def _banner(server: Server, greeting: Reply, ehlo: Reply) -> Check:
    where = server.at(SMTP)
    if greeting.code != 220:
        return result(BANNER, Status.CRIT, f"{where} refuses mail: it greets with {greeting.text}",
                      FIXES[BANNER])
    if ehlo.code != 250:
        return result(BANNER, Status.CRIT, f"{where} refuses EHLO: {ehlo.text}", FIXES[BANNER])
    names = {"greeting": _first_word(greeting), "EHLO": _first_word(ehlo)}
    wrong = [f"the {step} names {name or 'nothing'}" for step, name in names.items()
             if name.lower() != server.name.lower()]
    if wrong:
        return result(BANNER, Status.WARN, f"{where}: {' and '.join(wrong)}, not {server.name}: receivers "
                      "compare it with the host name", f"set myhostname = {server.name} in Postfix's main.cf")
    return result(BANNER, Status.OK, f"{where}: {greeting.text}")


def _first_word(reply: Reply) -> str:
    words = reply.lines[0].split()
    return words[0] if words else ""


def _auth(server: Server, smtp: Smtp) -> Check:
    if "AUTH" in smtp.features:
        return result(AUTH, Status.CRIT, f"{server.at(SMTP)} offers AUTH {smtp.features['AUTH']} before TLS: "
                      "passwords may cross the network in clear", FIXES[AUTH])
    return result(AUTH, Status.OK, f"{server.at(SMTP)} offers no AUTH before TLS")


def _starttls(server: Server, smtp: Smtp) -> Check:
    if "STARTTLS" not in smtp.features:
        return result(STARTTLS, Status.CRIT, f"{server.at(SMTP)} does not offer STARTTLS: mail to it travels "
                      "unencrypted", FIXES[STARTTLS])
    smtp.starttls(tls_context(verify=False))  # trust is services.tls.certificate's concern
    tls = smtp.connection.tls
    return result(STARTTLS, Status.OK, f"{server.at(SMTP)} offers STARTTLS ({tls.version() if tls else '?'})")


MODULE = CheckModule("services.smtp", (BANNER, AUTH, STARTTLS), run, per_domain=False)
