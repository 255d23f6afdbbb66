"""Fixtures of the fault tests: a cluster of simulators and bot processes on the test's database."""

from __future__ import annotations

import pytest
from faults_harness import Cluster

from sandbox import SallaStore


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def make_cluster(request, tmp_path, database_url):
    """``make_cluster(store, **env)``: simulators started, no bot yet (``cluster.bot(name)`` starts one).
    ``make_cluster(store, database_url=other)`` for a second, independent cluster;
    ``make_cluster(store, dialect="none")`` for an Enerpize tenant whose lists filter nothing. The
    bots' logs are printed when the test fails."""
    clusters: list[Cluster] = []

    def make(store: SallaStore, database_url: str = database_url, dialect: str = "both", **env: str) -> Cluster:
        logs = tmp_path / f"cluster-{len(clusters)}"
        logs.mkdir()
        cluster = Cluster(logs, database_url, store, env=dict(env), dialect=dialect).__enter__()
        clusters.append(cluster)
        return cluster

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for cluster in clusters:
        if failed:
            print(cluster.logs())
        cluster.__exit__(None, None, None)


@pytest.fixture
def make_database(tmp_path, _template_database):
    """``make_database()``: one more new database at head on the backend under test (for another,
    independent cluster), dropped after the test."""
    import os
    import shutil
    import uuid

    pg_url = os.environ.get("SALLA_SYNC_TEST_DATABASE", "")
    made: list[str] = []

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        if not pg_url.startswith("postgresql"):
            path = tmp_path / f"{name}.db"
            shutil.copyfile(_template_database, path)
            return f"sqlite:///{path}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_template_database}"'))
        made.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    if not pg_url.startswith("postgresql"):
        yield make
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    url = make_url(pg_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
