from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from mae_hlvm.experiments.prose import counted, number, span


def test_number_drops_the_sign_of_a_rounded_zero():
    assert number(-0.001) == "0.00" and number(-0.004, 3) == "-0.004" and number(0.126) == "0.13"
    assert number(-0.4, 0) == "0" and number(-12.5) == "-12.50"


def test_counted_agrees_in_number():
    assert counted(1, "seed") == "1 seed" and counted(3, "seed") == "3 seeds" and counted(0, "seed") == "0 seeds"
    assert counted(2, "child", "children") == "2 children" and counted(1, "child", "children") == "1 child"


def test_span_collapses_equal_ends_and_refuses_nothing():
    assert span([0.3, 0.12, 0.2]) == "0.12 to 0.30" and span([0.501, 0.499]) == "0.50"
    assert span((1.0,), lambda x: f"{x:g}") == "1"
    with pytest.raises(ValueError, match="at least one value"):
        span([])


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=8))
def test_span_names_the_extremes_in_order(values):
    text = span(values)
    assert text.startswith(number(min(values))) and text.endswith(number(max(values)))
