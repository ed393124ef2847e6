"""Throw-away Debian servers on this machine, reached over SSH like a customer's server."""
