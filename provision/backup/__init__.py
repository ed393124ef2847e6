"""Backups of a customer's server: the backup role's program (provision-backup) run over SSH, and the
backup host set up by playbooks/backup-host.yml."""
