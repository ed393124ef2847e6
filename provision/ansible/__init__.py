"""Everything that runs Ansible, and where its playbooks and templates are.

An installed provision carries them inside the package (provision/playbooks, provision/templates); run
from a checkout (`python -m provision`), it uses the repository's own, beside the package.
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent
DATA = _PACKAGE if (_PACKAGE / "playbooks").is_dir() else _PACKAGE.parent
PLAYBOOKS = DATA / "playbooks"
TEMPLATES = DATA / "templates"
