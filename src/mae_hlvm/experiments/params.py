"""Parameters of a computation: a frozen, typed dataclass that is the only definition of its knobs.

Every computation of the book (a chapter's ``run(params) -> Result``) takes one subclass of
:class:`Params`. Its fields are the knobs, their defaults are the ``default`` profile, and a field's
``doc`` is the line a reader sees beside it. Profiles (``notebooks/profiles/<chapter>.yaml``) and
papermill parameters load into it through :meth:`Params.from_dict`, which refuses unknown names and
wrong types, so a typo cannot silently fall back to a default.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Demo(Params):
...     steps: int = knob(100, "optimiser steps")
>>> Demo.from_dict({"steps": 5}).steps
5
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Mapping, Sequence, TypeVar

P = TypeVar("P", bound="Params")


class ParamsError(ValueError):
    """A parameter set that names an unknown knob, or a value of the wrong type or range."""


def knob(default: Any, doc: str) -> Any:
    """A field with ``default`` and a one-line ``doc`` (shown in parameter tables and cells)."""
    return field(default=default, metadata={"doc": doc})


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(hint))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(hint)[0])}"
    return getattr(hint, "__name__", str(hint))


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` as type ``hint``, or raise TypeError. Only lossless coercions: int -> float, list ->
    tuple; a string is never read as a number and a bool is never an int."""
    origin = typing.get_origin(hint)
    if hint is type(None):
        if value is None:
            return None
    elif origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _coerce(value, option)
            except TypeError:
                pass
    elif origin is Literal:
        if any(value == a and type(value) is type(a) for a in typing.get_args(hint)):
            return value
    elif origin is tuple:
        if isinstance(value, (list, tuple)):
            item = typing.get_args(hint)[0]
            return tuple(_coerce(v, item) for v in value)
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"unsupported parameter type {hint!r}")
    raise TypeError(_type_name(hint))


@dataclass(frozen=True)
class Params:
    """Base of every computation's parameters (subclass it as a frozen dataclass of :func:`knob` fields).

    Subclasses add range rules in :meth:`check` (raise :class:`ParamsError` naming value and rule).
    """

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        name = type(self).__name__
        for f in fields(self):
            value = getattr(self, f.name)
            try:
                coerced = _coerce(value, hints[f.name])
            except TypeError as err:
                raise ParamsError(f"{name}.{f.name} must be {err}, got {value!r} ({type(value).__name__})") from None
            if isinstance(coerced, float) and not math.isfinite(coerced):
                raise ParamsError(f"{name}.{f.name} must be a finite number, got {value!r}")
            object.__setattr__(self, f.name, coerced)
        self.check()

    def check(self) -> None:
        """Range rules beyond the types; subclasses override and raise ParamsError."""

    def _require(self, ok: bool, name: str, rule: str) -> None:
        if not ok:
            raise ParamsError(f"{type(self).__name__}.{name} = {getattr(self, name)!r}: {rule}")

    @classmethod
    def knobs(cls) -> dict[str, dataclasses.Field]:
        """The fields, by name, in definition order."""
        return {f.name: f for f in fields(cls)}

    @classmethod
    def from_dict(cls: type[P], data: Mapping[str, Any], source: str = "") -> P:
        """Parameters from a mapping of knob names (a profile, papermill's parameters).

        Unknown names are refused, listing the valid ones; ``source`` names where the mapping came
        from, for the message."""
        if not isinstance(data, Mapping):
            raise ParamsError(f"{source or cls.__name__} must be a mapping of parameter names, "
                              f"got {type(data).__name__}")
        unknown = sorted(set(data) - set(cls.knobs()))
        if unknown:
            where = f" in {source}" if source else ""
            raise ParamsError(f"unknown parameter(s) {', '.join(map(str, unknown))}{where} for {cls.__name__}; "
                              f"valid: {', '.join(cls.knobs())}")
        try:
            return cls(**data)
        except ParamsError as err:
            raise ParamsError(f"{source}: {err}" if source else str(err)) from None

    @classmethod
    def from_namespace(cls: type[P], namespace: Mapping[str, Any]) -> P:
        """Parameters from the variables of a notebook's parameters cell (``globals()``): every knob
        that the namespace defines, defaults for the rest."""
        return cls.from_dict({k: namespace[k] for k in cls.knobs() if k in namespace})

    def replace(self: P, **changes: Any) -> P:
        """A copy with ``changes``; unknown names are refused."""
        return type(self).from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples as lists)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    def differences(self: P, other: P, ignore: Sequence[str] = ()) -> dict[str, tuple[Any, Any]]:
        """``{knob: (mine, other's)}`` for every knob whose value differs, apart from ``ignore``
        (plain values, as :meth:`to_dict` gives them): what a message names when two settings clash."""
        if type(other) is not type(self):
            raise TypeError(f"cannot compare {type(self).__name__} with {type(other).__name__}")
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (v, theirs[k]) for k, v in mine.items() if k not in ignore and v != theirs[k]}

    def changed(self) -> dict[str, Any]:
        """The knobs whose values differ from the defaults."""
        return {k: v for k, (_, v) in type(self)().differences(self).items()}

    def table(self):
        """A pandas DataFrame: knob, value used, and what it means (the book shows it once)."""
        import pandas as pd

        rows = [{"parameter": f.name, "value": repr(getattr(self, f.name)) if isinstance(getattr(self, f.name), str)
                 else str(getattr(self, f.name)), "meaning": f.metadata.get("doc", "")} for f in fields(self)]
        return pd.DataFrame(rows).set_index("parameter")

    def _repr_html_(self) -> str:
        return self.table().to_html()

    @classmethod
    def parameters_cell(cls) -> str:
        """Source of the notebook ``parameters`` cell mirroring the defaults (``profile`` first).

        ``python -m mae_hlvm.book --sync-parameters`` writes it into each chapter; a test checks that
        every chapter's cell equals it, so the dataclass stays the one definition."""
        lines = ['profile = "default"  # the runner injects the profile\'s name and values']
        for f in fields(cls):
            if "=" in f.metadata.get("doc", ""):  # papermill reads `name = value  # comment` lines
                raise ValueError(f"{cls.__name__}.{f.name}'s doc contains '=', which papermill cannot parse")
            lines.append(f"{f.name} = {f.default!r}  # {f.metadata.get('doc', '')}".rstrip(" #"))
        return "\n".join(lines)
