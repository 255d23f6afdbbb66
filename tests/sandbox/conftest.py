"""Fixtures shared by the simulator tests in this directory."""

from __future__ import annotations

import pytest

from sandbox import EnerpizeSimulator


@pytest.fixture
def enerpize():
    with EnerpizeSimulator(api_key="test-key") as sim:
        yield sim
