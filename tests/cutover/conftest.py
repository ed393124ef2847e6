"""Fixtures for the cutover's fast tests: the example inventory and a Knot that takes TSIG updates."""

from tests.dns.records.conftest import example_password, inventory_copy, key_file, knot  # noqa: F401
