"""Placeholders that `provision render` writes where apply would write what it cannot know.

<vault_NAME> stands for a secret (render writes none); <host_NAME> for what apply learns
from the host (playbooks/render.yml sets those). Comparing a rendered file with the host's
copy, a placeholder matches any text within its line.
"""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"<(?:vault|host)_[^<>\s]+>")


def for_secrets(secrets: dict[str, Any]) -> dict[str, Any]:
    """The vault's names with <name> in place of each secret."""
    return {name: {key: f"<{name}.{key}>" for key in value} if isinstance(value, dict) else f"<{name}>"
            for name, value in secrets.items()}
