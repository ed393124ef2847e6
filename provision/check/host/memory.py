"""host.memory: the server has the memory its features need; ClamAV's signatures (provision_antivirus)
take about 1.5 GB, on top of the rest of the mail server's 1 GiB."""

from __future__ import annotations

from provision.check.context import CheckModule, Context
from provision.check.host import facts, result
from provision.check.model import Check, Status

MEMORY = "host.memory"
ANTIVIRUS_MIB = 3 * 1024  # below it, clamd's database and the mail server push each other into swap or OOM


def run(context: Context, domain: str) -> list[Check]:
    gathered = facts.gather(context, MEMORY)
    if isinstance(gathered, list):
        return gathered
    found = gathered.facts
    if found.memory_kib is None:
        return [result(MEMORY, Status.UNKNOWN, found.problems["memory"])]
    return [judge(found.memory_kib, gathered.server.inventory.settings.antivirus,
                  str(gathered.server.inventory.directory))]


def judge(memory_kib: int, antivirus: bool, directory: str) -> Check:
    shown = f"{memory_kib / 1024 / 1024:.1f} GiB of memory"
    if not antivirus:
        return result(MEMORY, Status.OK, f"{shown}; antivirus off")
    if memory_kib >= ANTIVIRUS_MIB * 1024:
        return result(MEMORY, Status.OK, f"{shown}; antivirus on (ClamAV needs about 1.5 GB)")
    return result(MEMORY, Status.WARN,
                  f"{shown}, with antivirus on: ClamAV's signatures alone need about 1.5 GB "
                  f"(warn below {ANTIVIRUS_MIB // 1024} GiB)",
                  "give the server at least 3 GiB of memory, or set provision_antivirus: false in "
                  f"{directory}/group_vars/all/provision.yml and run provision apply {directory}")


MODULE = CheckModule(MEMORY, (MEMORY,), run, per_domain=False)
