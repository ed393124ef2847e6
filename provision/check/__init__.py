"""`provision check`: health checks of a customer's mail setup, grouped in areas.

model holds the result types, runner runs the areas' checks concurrently for many targets, report
renders the results (table, JSON, Markdown, HTML, Nagios). Each area is a package of check modules
listed in AREAS (provision.check.areas): dns, services (from outside) and host (over SSH).
"""
