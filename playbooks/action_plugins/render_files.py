# Render all of a role's templates on the controller: `provision render`'s work.
#
# The template module would copy each file through a module run of its own; here the
# rendering is config_files's (so render shows what apply writes) and the files are
# written directly, since the controller is where they go.
from __future__ import annotations

import importlib
import os
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.loader import action_loader

DOCUMENTATION = r"""
module: render_files
short_description: Render every template below a directory into another, on the controller
description:
  - Renders each C(*.j2) file below C(templates) as M(ansible.builtin.template) would, into the same
    relative path below C(dest) without the C(.j2). Files named C(_*.j2) are parts that other templates
    include and are skipped. Files are written with mode 0600, directories with 0700.
  - Each file below C(files) (a role's programs, installed as they are) goes to the same relative path
    below C(dest) unchanged, so that a render shows everything apply writes.
options:
  templates: {description: The directory of templates., type: path, required: true}
  files: {description: The directory of files copied as they are; none if it does not exist., type: path}
  dest: {description: The directory to write the rendered files into., type: path, required: true}
  settings:
    description: By template (C(src)), the settings config_files puts into the rendered file.
    type: dict
"""

ConfigFiles = action_loader.get("config_files", class_only=True)
with_settings = importlib.import_module(ConfigFiles.__module__).with_settings


class ActionModule(ConfigFiles):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ConfigFiles, self).run(tmp, task_vars)
        try:
            templates = Path(self._task.args["templates"])
            dest = Path(self._task.args["dest"])
        except KeyError as missing:
            raise AnsibleActionFail(f"render_files needs {missing}") from None
        files = self._task.args.get("files")
        rendered = []
        for directory in [*reversed(dest.parents), dest]:  # what is missing of dest, private
            directory.mkdir(mode=0o700, exist_ok=True)
        for source in sorted(templates.rglob("*.j2")):
            if source.name.startswith("_"):
                continue
            relative = source.relative_to(templates).with_suffix("")
            src = str(source.relative_to(templates))
            text = self.render_template(self.source(src, task_vars), src, str(relative), task_vars)
            text = with_settings(text, (self._task.args.get("settings") or {}).get(src))
            _write(dest, relative, text.encode())
            rendered.append(str(relative))
        programs = Path(files).rglob("*") if files else []
        for source in sorted(path for path in programs if path.is_file() and "__pycache__" not in path.parts):
            relative = source.relative_to(files)
            _write(dest, relative, source.read_bytes())
            rendered.append(str(relative))
        result.update(changed=bool(rendered), rendered=rendered)
        return result


def _write(dest: Path, relative: Path, content: bytes) -> None:
    """dest/relative with content, readable by its owner only, as are the directories made for it."""
    for directory in [*reversed(relative.parents)][1:]:
        (dest / directory).mkdir(mode=0o700, exist_ok=True)
    descriptor = os.open(dest / relative, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
