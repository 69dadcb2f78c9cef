"""The Params base: types from annotations, unknown names refused, the generated parameters cell."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import pytest

from mae_hlvm.experiments.params import Params, ParamsError, knob


@dataclass(frozen=True)
class Demo(Params):
    steps: int = knob(10, "optimiser steps")
    ratio: float = knob(0.5, "a ratio")
    name: Literal["a", "b"] = knob("a", "one of two")
    sizes: tuple[int, ...] = knob((1, 2), "sizes")
    flag: bool = knob(False, "a switch")
    limit: int | None = knob(None, "optional")

    def check(self) -> None:
        self._require(self.steps >= 0, "steps", "must be >= 0")


def test_defaults_and_coercions():
    d = Demo.from_dict({"ratio": 1, "sizes": [3, 4]})
    assert d.ratio == 1.0 and isinstance(d.ratio, float) and d.sizes == (3, 4)
    assert Demo().to_dict() == {"steps": 10, "ratio": 0.5, "name": "a", "sizes": [1, 2], "flag": False, "limit": None}
    assert Demo(limit=3).limit == 3


@pytest.mark.parametrize("values, message", [
    ({"steps": "10"}, r"Demo.steps must be int, got '10' \(str\)"),
    ({"steps": True}, r"Demo.steps must be int, got True"),
    ({"steps": 1.5}, r"Demo.steps must be int, got 1.5"),
    ({"ratio": "0.5"}, r"Demo.ratio must be float, got '0.5'"),
    ({"ratio": float("nan")}, r"Demo.ratio must be a finite number"),
    ({"name": "c"}, r"Demo.name must be 'a' \| 'b', got 'c'"),
    ({"sizes": [1, "x"]}, r"Demo.sizes must be int, got \[1, 'x'\]"),
    ({"flag": 1}, r"Demo.flag must be bool, got 1"),
    ({"steps": -1}, r"Demo.steps = -1: must be >= 0"),
    ({"stpes": 1}, r"unknown parameter\(s\) stpes for Demo; valid: steps, ratio"),
])
def test_bad_values_name_value_and_rule(values, message):
    with pytest.raises(ParamsError, match=message):
        Demo.from_dict(values)


def test_frozen_replace_and_changed():
    d = Demo()
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.steps = 3  # type: ignore[misc]
    e = d.replace(steps=3)
    assert e.steps == 3 and d.steps == 10 and e.changed() == {"steps": 3}
    with pytest.raises(ParamsError, match="unknown"):
        d.replace(nope=1)


def test_differences_name_each_knob_that_differs_with_both_values():
    d = Demo()
    e = d.replace(steps=3)
    assert d.differences(e) == {"steps": (10, 3)} and e.differences(d) == {"steps": (3, 10)}
    assert d.differences(e, ignore=("steps",)) == {} and d.differences(d) == {}
    with pytest.raises(TypeError, match="cannot compare Demo"):
        d.differences(object())  # type: ignore[arg-type]


def test_from_namespace_takes_only_knobs():
    ns = {"steps": 4, "profile": "smoke", "unrelated": object()}
    assert Demo.from_namespace(ns).steps == 4


def test_parameters_cell_round_trips_through_papermill_reading():
    src = Demo.parameters_cell()
    ns: dict = {}
    exec(src, {}, ns)
    assert ns.pop("profile") == "default"
    assert Demo.from_dict(ns) == Demo()
    assert "# optimiser steps" in src


def test_a_doc_with_an_equals_sign_is_refused():
    @dataclass(frozen=True)
    class Bad(Params):
        x: int = knob(1, "x = 1")

    with pytest.raises(ValueError, match="papermill"):
        Bad.parameters_cell()


def test_table_lists_every_knob():
    t = Demo(steps=3).table()
    assert list(t.index) == list(Demo.knobs()) and t.loc["steps", "value"] == "3"
