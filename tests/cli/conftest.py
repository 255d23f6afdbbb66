"""Fixtures of the CLI tests: the simulators, and the environment a ``salla-sync`` process gets."""

from __future__ import annotations

import os

import pytest

from sandbox import EnerpizeSimulator, SallaSimulator, sample_store


@pytest.fixture
def sims():
    with SallaSimulator(store=sample_store()) as salla, EnerpizeSimulator() as enerpize:
        yield salla, enerpize


@pytest.fixture
def env(sims, database_url, tmp_path):
    salla, enerpize = sims
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SALLA_", "ENERPIZE_", "SLACK_", "DATABASE_"))}
    clean.update({
        "SALLA_API_URL": salla.api_url, "SALLA_TOKEN_URL": salla.token_url,
        "SALLA_ACCESS_TOKEN": salla.access_token, "SALLA_REFRESH_TOKEN": salla.refresh_token,
        "SALLA_CLIENT_ID": salla.client_id, "SALLA_CLIENT_SECRET": salla.client_secret,
        "ENERPIZE_API_URL": enerpize.api_url, "ENERPIZE_API_KEY": enerpize.api_key,
        "DATABASE_URL": database_url, "SALLA_SYNC_HTTP_TIMEOUT": "5",
    })
    return clean
