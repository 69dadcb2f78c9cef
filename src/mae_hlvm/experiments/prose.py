"""Formatters for the numbers that glue puts into the book's sentences: one spelling of each."""
from __future__ import annotations

from typing import Callable


def number(x: float, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, "0.00" rather than "-0.00" (a rounded zero has no sign in prose)."""
    text = f"{x:.{digits}f}"
    return text.lstrip("-") if float(text) == 0 else text


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` in agreement: "1 seed", "3 seeds" (``plural`` when it is not noun + "s")."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def span(values: list[float] | tuple[float, ...], fmt: Callable[[float], str] = number) -> str:
    """The range of ``values`` for prose, "0.12 to 0.30", or one number when both ends print alike."""
    if not values:
        raise ValueError("span needs at least one value")
    lo, hi = fmt(min(values)), fmt(max(values))
    return lo if lo == hi else f"{lo} to {hi}"
