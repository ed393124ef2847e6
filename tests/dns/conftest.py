"""Fixtures for DNS tests: a real Knot DNS server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dnsserver import AuthoritativeServer


@pytest.fixture(scope="module")
def dns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthoritativeServer]:
    """A Knot DNS server for the module's tests; load() the zones each test needs."""
    with AuthoritativeServer(tmp_path_factory.mktemp("knot")) as server:
        yield server
