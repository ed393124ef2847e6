"""A consultant's fleet: consultant.yml and the customers' inventories under customers/, read at once.

A customer whose inventory does not load is refused on its own, with its problems: the others still
run. A consultant.yml with problems refuses every customer, as it is part of each inventory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from provision.errors import UsageError
from provision.inventory import CONSULTANT_FILE, CUSTOMERS_DIR
from provision.inventory.load import load
from provision.inventory.model import Inventory


@dataclass(frozen=True)
class Fleet:
    directory: Path
    customers: dict[str, Inventory]  # by name, the ones that loaded
    refused: dict[str, list[str]] = field(default_factory=dict)  # name -> its problems, one a line

    @property
    def names(self) -> list[str]:
        return sorted([*self.customers, *self.refused])


def is_fleet(directory: Path) -> bool:
    return (directory / CONSULTANT_FILE).is_file()


def load_fleet(directory: Path, only: list[str] | None = None) -> Fleet:
    """The fleet's customers, all of them or those named in only (an unknown name is refused: exit 2)."""
    customers_dir = directory / CUSTOMERS_DIR
    found = sorted(path.name for path in customers_dir.iterdir() if path.is_dir()
                   and not path.name.startswith(".")) if customers_dir.is_dir() else []
    if not found:
        raise UsageError(f"{customers_dir} holds no customer inventory",
                         hint="make one with: provision init " f"{customers_dir}/NAME ...")
    unknown = sorted(set(only or ()) - set(found))
    if unknown:
        raise UsageError(f"{directory}: no customer named {', '.join(unknown)}",
                         hint=f"the customers are: {', '.join(found)}")
    loaded, refused = {}, {}
    for name in only or found:
        try:
            loaded[name] = load(customers_dir / name)
        except UsageError as error:
            refused[name] = error.lines()
    return Fleet(directory, loaded, refused)


def customer_list(text: str) -> list[str]:
    """--customers a,b: the names, each once, in the order given."""
    return list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
