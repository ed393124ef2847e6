# Write several templates with one look at the host.
#
# ansible.builtin.template costs two module runs per file even when nothing changed
# (a stat, then a file run for the attributes). This action renders every file on the
# controller, asks the host once for all their checksums and attributes, and hands
# only the files that differ to ansible.builtin.copy, which validates and writes them
# exactly as the template action would.
from __future__ import annotations

import os
import shutil
import tempfile

from ansible import constants as C
from ansible._internal._templating import _template_vars  # the template action's own, so both render alike
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible.utils.hashing import secure_hash_s

DOCUMENTATION = r"""
module: config_files
short_description: Write several templated files, looking at the host once
description:
  - Renders each template on the controller like M(ansible.builtin.template).
  - Compares all of them with the host in one module run; writes only those whose
    content, mode, owner or group differ, through M(ansible.builtin.copy), so
    C(validate), check mode and diff behave as for a template.
options:
  files:
    description: >-
      The files, each with C(src), C(dest) and optionally C(validate), C(owner), C(group), C(mode), and
      C(settings), a mapping of C(name = value) lines that replace the rendered file's own line of that
      name (with its continuation lines) or, for a name it lacks, are added at its end.
    type: list
    elements: dict
    required: true
  owner: {description: Owner of every file unless a file names its own., type: str, default: root}
  group: {description: Group of every file unless a file names its own., type: str, default: root}
  mode: {description: Mode of every file unless a file names its own., type: str, default: "0644"}
"""

FILE_KEYS = {"src", "dest", "validate", "owner", "group", "mode", "settings"}


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        files = [self._file(spec) for spec in self._task.args.get("files") or []]
        if not files:
            raise AnsibleActionFail("config_files needs a list of files")

        for spec in files:
            spec["content"] = self._render(spec, task_vars)
        on_host = self._host_state(files, task_vars)

        diffs, written = [], []
        try:
            for spec in files:
                if self._unchanged(spec, on_host.get(spec["dest"])):
                    continue
                copied = self._copy(spec, task_vars)
                if copied.get("failed"):
                    copied["msg"] = f"{spec['dest']}: {copied.get('msg', 'could not be written')}"
                    return copied
                if copied.get("changed"):
                    written.append(spec["dest"])
                    diff = copied.get("diff") or []
                    diffs.extend(diff if isinstance(diff, list) else [diff])
        finally:  # the copies' temporary directory on the host, also after a failed validate
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(changed=bool(written), written=written, files=[f["dest"] for f in files])
        if diffs:
            result["diff"] = diffs
        return result

    def _file(self, spec):
        if not isinstance(spec, dict) or not {"src", "dest"} <= spec.keys() or spec.keys() - FILE_KEYS:
            raise AnsibleActionFail(
                f"config_files: each file needs src and dest, and only {sorted(FILE_KEYS)}: {spec}")
        args = self._task.args
        return {
            "src": spec["src"],
            "dest": spec["dest"],
            "validate": spec.get("validate"),
            "owner": spec.get("owner", args.get("owner", "root")),
            "group": spec.get("group", args.get("group", "root")),
            "mode": str(spec.get("mode", args.get("mode", "0644"))),
            "settings": spec.get("settings") or {},
        }

    def _render(self, spec, task_vars):
        """The file's text, rendered as ansible.builtin.template renders it."""
        text = self.render_template(self.source(spec["src"], task_vars), spec["src"], spec["dest"], task_vars)
        return with_settings(text, spec["settings"])

    def source(self, src, task_vars):
        """The consultant's or customer's own copy of the role's template (provision_template_layers,
        the lowest first), else the role's."""
        for layer in _layers(task_vars):
            if os.path.isfile(os.path.join(layer, src)):
                return os.path.join(layer, src)
        return self._find_needle("templates", src)

    def render_template(self, source, src, dest, task_vars):
        # Parts that a template includes are looked up in the layers first, as the templates are.
        searchpath = [*_layers(task_vars), *task_vars.get("ansible_search_path", [])]
        searchpath += [self._loader._basedir, os.path.dirname(source)]
        searchpath = [p for base in searchpath for p in (os.path.join(base, "templates"), base)]
        template_vars = dict(task_vars)
        template_vars.update(_template_vars.generate_ansible_template_vars(
            path=src, fullpath=source, dest_path=dest,
            include_ansible_managed="ansible_managed" not in template_vars,
        ))
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=template_vars)
        text = trust_as_template(self._loader.get_text_file_contents(source))
        return templar.template(text, escape_backslashes=False, overrides={"trim_blocks": True}) or ""

    def _host_state(self, files, task_vars):
        """Checksum, mode, owner and group of each destination, from one find run."""
        found = self._execute_module(
            module_name="ansible.legacy.find",
            module_args={
                "paths": sorted({os.path.dirname(f["dest"]) for f in files}),
                "patterns": sorted({os.path.basename(f["dest"]) for f in files}),
                "hidden": True,
                "get_checksum": True,
            },
            task_vars=task_vars,
        )
        if found.get("failed"):
            raise AnsibleActionFail(f"could not look at the files on the host: {found.get('msg')}")
        return {f["path"]: f for f in found.get("files", [])}

    @staticmethod
    def _unchanged(spec, state):
        return (
            state is not None
            and state.get("checksum") == secure_hash_s(spec["content"])
            and int(state.get("mode", "0"), 8) == int(spec["mode"], 8)
            and state.get("pw_name") == spec["owner"]
            and state.get("gr_name") == spec["group"]
        )

    def _copy(self, spec, task_vars):
        """Write one file through the copy action, as the template action does."""
        tmpdir = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
        try:
            rendered = os.path.join(tmpdir, os.path.basename(spec["dest"]))
            with open(rendered, "wb") as handle:
                handle.write(to_bytes(spec["content"], errors="surrogate_or_strict"))
            task = self._task.copy()
            task.args.clear()
            task.args.update(src=rendered, dest=spec["dest"], owner=spec["owner"], group=spec["group"],
                             mode=spec["mode"])
            if spec["validate"]:
                task.args["validate"] = spec["validate"]
            copy = self._shared_loader_obj.action_loader.get(
                "ansible.legacy.copy", task=task, connection=self._connection,
                play_context=self._play_context, loader=self._loader, templar=self._templar,
                shared_loader_obj=self._shared_loader_obj,
            )
            copied = copy.run(task_vars=task_vars)
            diffs = copied.get("diff") or []
            for diff in diffs if isinstance(diffs, list) else [diffs]:
                if diff.get("after_header") == rendered:  # a temporary file; name the template
                    diff["after_header"] = f"{spec['dest']} (from {spec['src']})"
            return copied
        finally:
            shutil.rmtree(tmpdir)


def _layers(task_vars):
    """The role's directories in the template layers, the highest first."""
    role = task_vars.get("role_name")
    layers = task_vars.get("provision_template_layers") or []
    return [os.path.join(str(layer), role) for layer in reversed(layers)] if role else []


def with_settings(text, settings):
    """text with each `name = value` of settings in place of the line setting name (and the indented
    lines continuing it), or at the end under a comment for a name text does not set."""
    if not settings:
        return text
    if not isinstance(settings, dict):
        raise AnsibleActionFail(f"config_files: settings must be a mapping of names to values: {settings}")
    wanted = {str(name): f"{name} = {value}" for name, value in settings.items()}
    lines, replacing = [], False
    for line in text.splitlines():
        name = line.split("=", 1)[0].strip() if "=" in line and not line[:1].isspace() else None
        if replacing and line[:1].isspace() and line.strip():
            continue  # a continuation of the line replaced
        replacing = name in wanted
        lines.append(wanted.pop(name) if replacing else line)
    if wanted:
        lines += ["", "# from the inventory (settings that replace or add to the above)", *wanted.values()]
    return "\n".join(lines) + "\n"
