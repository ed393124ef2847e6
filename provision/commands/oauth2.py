"""`provision oauth2 login`: an OAuth2 token for a provider account, without a hand-made token."""

from __future__ import annotations

import argparse
from pathlib import Path

from provision import files, secretfile
from provision.console import Console
from provision.errors import UsageError
from provision.oauth2 import tokens
from provision.oauth2.device import Client, login
from provision.oauth2.endpoints import PROVIDERS, endpoints


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("oauth2", parents=[common], help="log in to a provider account with OAuth2")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    start = actions.add_parser(
        "login", parents=[common], help="the device login (RFC 8628): approve in any browser",
        description="Shows a web address and a code; the account's owner opens the address anywhere, types "
                    "the code and approves. The access token is written to TOKEN_FILE (0600), the token "
                    "for `migrate --oauth2-token-file`, and what renews it to TOKEN_FILE.oauth2: a "
                    "migration renews the token by itself when it is about to expire.")
    start.add_argument("--provider", required=True, choices=[*PROVIDERS, "custom"],
                       help="whose authorization server (custom: give the three settings below)")
    start.add_argument("--client-id", required=True, metavar="ID", help="the application registered there")
    start.add_argument("--client-secret-file", metavar="FILE",
                       help="the application's secret, where the provider wants one (Google)")
    start.add_argument("--tenant", default="organizations", metavar="T",
                       help="Microsoft's tenant (ID or domain; default: %(default)s)")
    start.add_argument("--device-endpoint", metavar="URL", help="device authorization endpoint (setting)")
    start.add_argument("--token-endpoint", metavar="URL", help="token endpoint (setting)")
    start.add_argument("--scope", help="scopes asked for, space-separated (setting)")
    start.add_argument("--ca-file", metavar="FILE", help="also trust these CA certificates")
    start.add_argument("token_file", type=Path, metavar="TOKEN_FILE", help="new file for the token")
    start.set_defaults(handler=_login)


def _login(args: argparse.Namespace, console: Console) -> int:
    chosen = endpoints(args.provider, args.tenant, args.device_endpoint, args.token_endpoint, args.scope)
    secret = secretfile.read(args.client_secret_file, "client secret") if args.client_secret_file else ""
    client = Client(args.client_id, secret, args.ca_file)
    renewal_file = tokens.renewal_path(args.token_file)
    for path in (args.token_file, renewal_file):
        if path.exists() or path.is_symlink():
            raise UsageError(f"{path} exists", "name a new file: a token is written only to a new one")
    if not args.token_file.parent.is_dir():
        raise UsageError(f"{args.token_file}: the directory {args.token_file.parent} does not exist")
    files.not_a_link(args.token_file.parent)

    def show(uri: str, code: str, complete: str) -> None:  # a prompt, as a password's: shown with --quiet too
        print(f"open {uri} and enter the code {code}" + (f" (or open {complete})" if complete else ""),
              file=console.err, flush=True)
        console.info("waiting for the login to be approved ...")

    answer = login(chosen, client, show)
    refresh = answer.get("refresh_token")
    renewal_data = tokens.Renewal(chosen.token, client.client_id, str(refresh), 0.0, 0.0, secret,
                                  args.ca_file or "") if refresh else None
    saved = tokens.save(args.token_file, answer, renewal_data)
    if saved is None:
        console.warn("the provider gave no refresh token: log in again when the token expires")
    console.result({"token_file": str(args.token_file), "renewable": saved is not None},
                   f"token written to {args.token_file}")
    return 0
