"""The sync core against the Salla and Enerpize simulators, over real HTTP on loopback."""

from __future__ import annotations

import pytest

from sandbox import EnerpizeSimulator, SallaSimulator, sample_store
from sandbox.settings import simulator_settings
from sync_core.settings import Settings
from sync_core.store import Store
from sync_core.wiring import open_service


@pytest.fixture
def salla():
    with SallaSimulator(store=sample_store()) as sim:
        yield sim


@pytest.fixture(params=["both", "plain", "bracket", "none"])
def enerpize(request):
    """Enerpize in each filter dialect a tenant may speak (interfaces.md): every core test runs
    against a tenant honouring both spellings, only one, or none."""
    with EnerpizeSimulator(dialect=request.param) as sim:
        yield sim
    # The contract: every request the adapter sent is one Daftra's api2 document describes.
    from tests.contract.daftra_openapi import check_calls

    violations = check_calls(sim.calls)
    if violations:
        pytest.fail("requests to Enerpize that Daftra's api2 document does not describe "
                    "(tests/contract/daftra_openapi.py):\n" + "\n".join(violations), pytrace=False)


@pytest.fixture
def settings(salla, enerpize, database_url) -> Settings:
    return simulator_settings(salla, enerpize, database_url)


@pytest.fixture
def store(settings):
    store = Store(settings.database_url)
    yield store
    store.close()


@pytest.fixture
async def service(settings, store):
    async with open_service(settings, store=store) as service:
        service.lost_answer_pause = 0.05
        yield service
