"""The customer's directory (slapd) as provision administers it: connection and people."""
