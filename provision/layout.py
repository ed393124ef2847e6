"""Where the roles put things on the server, as the package needs them: one name for each.

The same values as the roles' (playbooks/group_vars/all.yml and the roles' defaults);
tests/unit/test_layout.py holds the two together.
"""

from __future__ import annotations

# The certificate (with its chain) the tls role keeps, which slapd and the other services serve.
CERTIFICATE = "/etc/ssl/provision/fullchain.pem"

# The radicale role's: Radicale's storage, provision's files for it, and its programs.
RADICALE_STORAGE = "/var/lib/radicale/collections"
COLLECTIONS = f"{RADICALE_STORAGE}/collection-root"
DAV_DATA = "/var/lib/provision/dav"
SHARES = f"{DAV_DATA}/shares.json"  # the delegations of `provision calendars share`
LOGINS = f"{DAV_DATA}/logins.json"  # address -> uid, written by provision-dav-sync
DAV_SYNC = "/usr/local/sbin/provision-dav-sync"
RADICALE_STORAGE_PROGRAM = "/usr/local/lib/provision/provision_radicale_storage.py"


def base_dn(domain: str) -> str:
    """The directory's base DN, named after the first mail domain: example.org -> dc=example,dc=org."""
    return ",".join(f"dc={label}" for label in domain.split("."))
