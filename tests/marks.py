"""What a test starts, declared where it is started; tests/conftest.py marks every test from it.

A helper, class or fixture that boots a sandbox or starts a server says so with @starts("sandbox") or
@starts("network"). At collection, a test is marked with everything its own code, its fixtures and the
helpers they call (followed through the tests package) declare, so `pytest -m "not sandbox"` leaves out
every test that boots one, however it reaches start_sandbox.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from types import CodeType
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # the helpers that declare what they start run outside pytest too (bench/)
    import pytest

Thing = TypeVar("Thing", bound=Callable[..., object])


def starts(*marks: str) -> Callable[[Thing], Thing]:
    def declare(thing: Thing) -> Thing:
        thing.__starts__ = frozenset(marks)  # type: ignore[attr-defined]
        return thing
    return declare


def declared(item: pytest.Function) -> set[str]:
    """The marks declared by what the test and its fixtures start, directly or through helpers."""
    roots: list[object] = [item.function]
    for name in item.fixturenames:
        roots += [fixture.func for fixture in item._fixtureinfo.name2fixturedefs.get(name, ())]
    found: set[str] = set()
    seen: set[int] = set()
    while roots:
        thing = roots.pop()
        if id(thing) in seen:
            continue
        seen.add(id(thing))
        found |= getattr(thing, "__starts__", frozenset())
        roots += _used_by(thing)
    return found


def _used_by(thing: object) -> Iterator[object]:
    """The tests package's own functions and classes that a function or class refers to."""
    if inspect.isclass(thing):
        yield from (member for member in vars(thing).values() if inspect.isfunction(member))
        return
    function = inspect.unwrap(thing) if callable(thing) else thing
    code, names = getattr(function, "__code__", None), getattr(function, "__globals__", {})
    for used in _names(code) if code else ():
        value = names.get(used)
        if callable(value) and getattr(value, "__module__", "").startswith("tests"):
            yield value


def _names(code: CodeType) -> Iterator[str]:
    yield from code.co_names
    for constant in code.co_consts:  # nested functions, lambdas, comprehensions
        if isinstance(constant, CodeType):
            yield from _names(constant)
