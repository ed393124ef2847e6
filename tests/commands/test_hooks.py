"""A customer's hook (hooks/post-ROLE.d/*.yml) runs inside apply's play, and under --check changes
nothing."""

from __future__ import annotations

import json
import shutil

HOOK = """\
- name: Leave the customer's marker
  ansible.builtin.copy:
    content: "written by a hook after postfix\\n"
    dest: /root/hook-marker
    mode: "0644"
"""


def test_hook_writes_its_marker_and_check_changes_nothing(mail_server):
    host, hooks = mail_server.host, mail_server.inventory / "hooks"
    (hooks / "post-postfix.d").mkdir(parents=True)
    (hooks / "post-postfix.d/marker.yml").write_text(HOOK)
    try:
        check = mail_server.apply("--json", "--check")
        assert check.returncode == 0, check.stderr
        assert json.loads(check.stdout)["changed_tasks"] == ["mail: Leave the customer's marker"]
        assert host.ssh("test -e /root/hook-marker", check=False).returncode != 0

        applied = mail_server.apply("--json")
        assert applied.returncode == 0, applied.stderr
        assert json.loads(applied.stdout)["changed_tasks"] == ["mail: Leave the customer's marker"]
        assert host.ssh("cat /root/hook-marker").stdout == "written by a hook after postfix\n"
    finally:
        shutil.rmtree(hooks)
        host.ssh("rm -f /root/hook-marker")
