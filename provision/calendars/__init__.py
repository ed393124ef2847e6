"""Calendars, task lists and address books on the server (the radicale role's Radicale)."""
