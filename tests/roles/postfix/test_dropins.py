"""Postfix drop-ins from the inventory: postconf settings and master.cf entries, without copying a
template. Rendered as apply writes them; on the shared mail server they land, survive a re-apply, and a
broken one is refused before Postfix reloads."""

from __future__ import annotations

import json
import shutil
import smtplib

from tests.conftest import REPO, provision

EXAMPLE = REPO / "inventory.example"
ENV = {"PROVISION_VAULT_PASSWORD_FILE": str(EXAMPLE / "vault-password.example")}
DROPINS = """\
postfix_postconf:
  smtpd_banner: $myhostname ESMTP ready
  delay_warning_time: 4h
postfix_master_cf_entries:
  - |
    2525      inet  n       -       y       -       -       smtpd
      -o syslog_name=postfix/2525
"""


def test_render_puts_the_settings_in_place(tmp_path):
    inventory = tmp_path / "acme"
    shutil.copytree(EXAMPLE, inventory)
    (inventory / "group_vars/all/dropins.yml").write_text(DROPINS)
    done = provision("render", str(inventory), str(tmp_path / "out"), env=ENV)
    assert done.returncode == 0, done.stderr + done.stdout
    main_cf = (tmp_path / "out/mail/postfix/etc/postfix/main.cf").read_text()
    assert main_cf.count("smtpd_banner") == 1
    assert "\nsmtpd_banner = $myhostname ESMTP ready\n" in main_cf
    assert main_cf.endswith("\ndelay_warning_time = 4h\n")
    master_cf = (tmp_path / "out/mail/postfix/etc/postfix/master.cf").read_text()
    assert master_cf.endswith("\n2525      inet  n       -       y       -       -       smtpd\n"
                              "  -o syslog_name=postfix/2525\n")


def test_dropins_land_survive_reapply_and_a_broken_one_is_refused(mail_server):
    host, dropins = mail_server.host, mail_server.inventory / "group_vars/all/dropins.yml"
    dropins.write_text(DROPINS)
    try:
        first = mail_server.apply()
        assert first.returncode == 0, first.stderr + first.stdout
        settings = host.ssh("postconf -n").stdout
        assert "smtpd_banner = $myhostname ESMTP ready\n" in settings
        assert "delay_warning_time = 4h\n" in settings
        service = "2525       inet  n       -       y       -       -       smtpd -o syslog_name=postfix/2525"
        assert f"\n{service}\n" in host.ssh("postconf -M").stdout
        again = json.loads(mail_server.apply("--json").stdout)
        assert again["hosts"]["mail"]["changed"] == 0, again["changed_tasks"]

        dropins.write_text("postfix_postconf: {smtpd_banner_typo: oops}\n")
        broken = mail_server.apply()
        assert broken.returncode == 1
        assert "Write the Postfix configuration" in broken.stderr
        assert "smtpd_banner_typo" in broken.stderr
        with smtplib.SMTP(timeout=10) as smtp:  # the last good configuration serves
            assert smtp.connect(host.address, 25) == (220, f"{host.hostname} ESMTP ready".encode())
        assert "smtpd_banner_typo" not in host.ssh("postconf -n").stdout
    finally:
        dropins.unlink()
        restored = mail_server.apply()
        assert restored.returncode == 0, restored.stderr + restored.stdout
    assert "delay_warning_time" not in host.ssh("postconf -n").stdout
