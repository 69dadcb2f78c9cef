"""Shared fixtures; book tests (notebook execution, site build, browser) run after everything else."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Stable sort: unit tests first, then the book tests in their definition order.
    items.sort(key=lambda item: item.get_closest_marker("book") is not None)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
