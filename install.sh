#!/bin/sh
# Install provision and everything it needs on a Debian 12 or 13 machine, as root.
#   ./install.sh           the tool: system packages and a Python environment in /opt/provision
#   ./install.sh --tests   the same, plus what the test suite needs
set -eu
cd "$(dirname "$0")"

venv=/opt/provision/venv
packages="python3 python3-venv debootstrap systemd-container apt-cacher-ng openssh-client iproute2 util-linux"
extra=""
case "${1:-}" in
    "") ;;
    --tests) extra="[test]"; packages="$packages knot knot-dnsutils knot-dnssecutils unbound swaks age gnupg pebble isync" ;;
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
"$venv/bin/pip" install -q --disable-pip-version-check -e ".$extra"
ln -sf "$venv/bin/provision" /usr/local/bin/provision
echo "installed: $(/usr/local/bin/provision --version)"
