"""Mail clients' submission: AUTH on 587 only after STARTTLS (RFC 4954 §4), implicit TLS on 465 (RFC 8314)."""

from __future__ import annotations

from provision.check.context import CheckModule, Context
from provision.check.model import Check, Status
from provision.check.services import each_server, failed, result
from provision.check.services.net import SUBMISSION, SUBMISSIONS, Server, ServiceError, Smtp, tls_context

AUTH_AFTER_TLS, SUBMISSIONS_TLS = "services.submission.auth_after_tls", "services.submissions.tls"
FIX_587 = ("in master.cf give submission -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes "
           "-o smtpd_sasl_auth_enable=yes (provision apply writes it)")
FIX_465 = ("in master.cf give submissions -o smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes "
           "(provision apply writes it) and open port 465 in the firewall")


def run(context: Context, domain: str) -> list[Check]:
    return each_server(context, AUTH_AFTER_TLS, _server)


def _server(context: Context, server: Server) -> list[Check]:
    return [_submission(server, context.options.timeout), _submissions(server, context.options.timeout)]


def _submission(server: Server, timeout: float) -> Check:
    where = server.at(SUBMISSION)
    try:
        with Smtp.open(server, SUBMISSION, timeout) as smtp:
            smtp.ehlo()
            before = dict(smtp.features)
            if "STARTTLS" in before:
                smtp.starttls(tls_context(verify=False))
    except ServiceError as error:
        return failed(AUTH_AFTER_TLS, error, FIX_587)
    if "AUTH" in before:
        return result(AUTH_AFTER_TLS, Status.CRIT, f"{where} offers AUTH {before['AUTH']} before STARTTLS: "
                      "passwords may cross the network in clear", FIX_587)
    if "STARTTLS" not in before:
        return result(AUTH_AFTER_TLS, Status.CRIT, f"{where} offers no STARTTLS: mail clients cannot log in",
                      FIX_587)
    if "AUTH" not in smtp.features:
        return result(AUTH_AFTER_TLS, Status.CRIT, f"{where} offers no AUTH even after STARTTLS: mail "
                      "clients cannot log in", FIX_587)
    return result(AUTH_AFTER_TLS, Status.OK,
                  f"{where} offers AUTH {smtp.features['AUTH']} only after STARTTLS")


def _submissions(server: Server, timeout: float) -> Check:
    where = server.at(SUBMISSIONS)
    try:
        with Smtp.open(server, SUBMISSIONS, timeout, tls_context(verify=False)) as smtp:
            smtp.ehlo()
            tls = smtp.connection.tls
            version = tls.version() if tls else "?"
    except ServiceError as error:
        return failed(SUBMISSIONS_TLS, error, FIX_465)
    if "AUTH" not in smtp.features:
        return result(SUBMISSIONS_TLS, Status.CRIT, f"{where} offers no AUTH: mail clients cannot log in",
                      FIX_465)
    return result(SUBMISSIONS_TLS, Status.OK,
                  f"{where}: implicit TLS ({version}), AUTH {smtp.features['AUTH']}")


MODULE = CheckModule("services.submission", (AUTH_AFTER_TLS, SUBMISSIONS_TLS), run, per_domain=False)
