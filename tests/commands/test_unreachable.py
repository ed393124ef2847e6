"""apply on a server it cannot log in to says which key ssh tried and what to do."""

from __future__ import annotations

from tests.conftest import provision


def test_apply_on_an_unreachable_sandbox_address_names_the_missing_key_and_the_fix(tmp_path):
    inventory = tmp_path / "nowhere"
    env = {"PROVISION_VAULT_PASSWORD_FILE": str(tmp_path / "vault.password")}
    (tmp_path / "vault.password").write_text("test vault password\n")
    made = provision("init", str(inventory), "--domain", "example.test", "--hostname", "mail.example.test",
                     "--host", "127.0.0.2", "--sandbox", env=env)
    assert made.returncode == 0, made.stderr
    done = provision("apply", str(inventory), env=env)
    assert done.returncode == 1
    assert ("hint: no sandbox runs at 127.0.0.2, so ssh had no sandbox key to try; start it "
            "(`provision sandbox up NAME`) and give its address in") in done.stdout
