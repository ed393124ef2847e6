"""The consultant's monitor host: Prometheus, blackbox probes and Alertmanager watching a customer."""
