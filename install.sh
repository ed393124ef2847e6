#!/bin/sh
# Install provision and everything it needs on a Debian 12 or 13 machine, as root.
#   ./install.sh           the tool: system packages and a Python environment in /opt/provision
#   ./install.sh --tests   the same, plus what the test suite needs
set -eu
cd "$(dirname "$0")"

venv=/opt/provision/venv
suite=/var/cache/provision/rfc7208  # tests/dns/openspf.py reads it
pyspf=2.0.14
packages="python3 python3-venv debootstrap systemd-container apt-cacher-ng openssh-client iproute2 util-linux"
extra=""
case "${1:-}" in
    "") ;;
    --tests) extra="[test]"; packages="$packages knot knot-dnsutils knot-dnssecutils unbound swaks age gnupg pebble isync chromium chromium-driver" ;;
    *) echo "usage: ./install.sh [--tests]" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run it as root (it installs Debian packages)" >&2
    exit 2
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # the package list is meant to split into words
apt-get install -y -q --no-install-recommends $packages
# provision starts its own apt-cacher-ng for the sandboxes, and the tests their own Knot and Unbound:
# the stock services would hold ports, and a resolver nobody asked for would sit on the machine.
if [ -d /run/systemd/system ]; then
    for service in apt-cacher-ng knot unbound; do
        systemctl disable --now "$service" >/dev/null 2>&1 || true
    done
fi

[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
# A real install, not an editable one: the playbooks and templates are copied into the package, so the
# installed tool works wherever this clone goes, and changes only when install.sh runs again.
# setuptools builds in ./build and would ship files left there by an earlier build that git has since removed.
rm -rf build
"$venv/bin/pip" install -q --disable-pip-version-check ".$extra"
ln -sf "$venv/bin/provision" /usr/local/bin/provision

if [ -n "$extra" ] && [ ! -s "$suite/rfc7208-tests.yml" ]; then
    # The SPF tests run the OpenSPF RFC 7208 suite, which ships with its licence in pyspf's sdist.
    # Unpacked beside the cache and renamed into place: an interrupted run leaves no half-made cache.
    mkdir -p "$(dirname "$suite")"
    download=$(mktemp -d "$suite.XXXXXX")
    "$venv/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: \
        -d "$download" "pyspf==$pyspf"
    mkdir "$download/suite"
    tar -xzf "$download/pyspf-$pyspf.tar.gz" -C "$download/suite" --strip-components=2 --no-same-owner \
        "pyspf-$pyspf/test/rfc7208-tests.yml" "pyspf-$pyspf/test/rfc7208-tests.LICENSE"
    rm -rf "$suite"
    mv "$download/suite" "$suite"
    rm -rf "$download"
fi
echo "installed: $(/usr/local/bin/provision --version)"
