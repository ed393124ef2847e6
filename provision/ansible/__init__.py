"""Everything that runs Ansible: the playbooks live in the checkout beside the package."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
PLAYBOOKS = REPO / "playbooks"
TEMPLATES = REPO / "templates"
