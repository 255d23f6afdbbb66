"""Migrations: a new database is created at head, an old one is stamped or reported, never raced."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect, text
from sqlmodel import SQLModel

from sync_core.store import SchemaBehind, SchemaMissing, SchemaUnknown, Store
from sync_core.store.schema import (
    current_revision,
    ensure_schema,
    head_revision,
    revisions,
    target_metadata,
    upgrade,
)
from sync_core.store.database import make_engine
from sync_core.store.runs import NewRun

OUR_TABLES = {"sync_run", "sync_record", "ledger", "salla_token", "enerpize_id_map", "slack_thread", "slack_rerun",
              "slack_audit", "webhook_event", "slack_alert"}


@pytest.fixture
def engine(empty_database_url):
    engine = make_engine(empty_database_url)
    yield engine
    engine.dispose()


def tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def drift(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, target_metadata())


def test_an_empty_database_is_upgraded_to_head_and_matches_the_models(engine, empty_database_url):
    assert tables(engine) == set()
    store = Store(empty_database_url, engine=engine)
    assert current_revision(engine) == head_revision()
    assert tables(engine) == OUR_TABLES | {"alembic_version"}
    # The migrations and the models describe the same schema (a model change needs a revision:
    # `salla-sync db revision -m ...`).
    assert drift(engine) == []
    run = store.create_runs([NewRun(["1001"], "U1", "cli")])[0]
    assert store.get_run(run.id).number_list == ["1001"]


def test_revisions_form_one_line_ending_at_head():
    assert revisions()[0] == "0001"
    assert revisions()[-1] == head_revision()


def test_a_database_at_head_costs_one_query(database_url):
    engine = make_engine(database_url)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    try:
        ensure_schema(engine, allow_create=True)
        Store(database_url, engine=engine)
    finally:
        engine.dispose()
    assert len(statements) == 2 and all("alembic_version" in s for s in statements), statements


def test_upgrade_reports_from_and_to(engine):
    assert upgrade(engine) == (None, head_revision())
    assert upgrade(engine) == (head_revision(), head_revision())


def test_a_database_made_by_create_all_is_stamped_at_head(engine, empty_database_url):
    target_metadata()
    SQLModel.metadata.create_all(engine)
    assert current_revision(engine) is None
    ensure_schema(engine, allow_create=True)
    assert current_revision(engine) == head_revision()
    Store(empty_database_url, engine=engine).create_runs([NewRun(["1"], "U1", "cli")])


def test_a_database_from_before_migrations_is_stamped_with_its_revision_then_reported_behind(engine):
    # What the first release's create_all made: revision 0001's tables, no alembic_version.
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("INSERT INTO sync_run (requested_by, source, numbers, state, total, succeeded, failed, "
                          "not_found, cancelled, created_at) VALUES ('U1', 'cli', '1001', 'finished', 1, 1, 0, 0, 0, "
                          "CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO ledger (salla_invoice_id, salla_order_id, kind, po_number, state) "
                          "VALUES (560001, 418149270, 'invoice', 'SALLA-560001', 'synced')"))
    with pytest.raises(SchemaBehind) as raised:
        ensure_schema(engine, allow_create=True)
    assert str(raised.value) == ('the database schema is at 0001, this version needs '
                                 f'{head_revision()}: run "salla-sync db upgrade"')
    assert current_revision(engine) == "0001"
    assert upgrade(engine) == ("0001", head_revision())
    ensure_schema(engine, allow_create=False)
    assert drift(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT requested_by, cancel_requested FROM sync_run")).one() == ("U1", False)
        assert conn.execute(text("SELECT salla_order_id FROM ledger")).scalar() == 418149270


def test_a_database_behind_head_is_not_touched_and_says_so_in_one_line(engine, empty_database_url):
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    with pytest.raises(SchemaBehind) as raised:
        Store(empty_database_url, engine=engine)
    message = str(raised.value)
    assert message == f'the database schema is at 0001, this version needs {head_revision()}: run "salla-sync db upgrade"'
    assert "\n" not in message
    assert raised.value.current == "0001" and raised.value.head == head_revision()
    assert current_revision(engine) == "0001"


def test_a_database_stamped_down_to_base_is_behind(engine):
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
    with pytest.raises(SchemaBehind, match=r"^the database schema is at base, this version needs"):
        ensure_schema(engine, allow_create=True)


def test_a_revision_this_version_does_not_know_is_refused(engine):
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaUnknown, match="9999"):
        ensure_schema(engine, allow_create=True)


def test_foreign_tables_without_a_version_are_refused(engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE something_else (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaUnknown, match="something_else"):
        ensure_schema(engine, allow_create=True)
    assert tables(engine) == {"something_else"}


def test_without_allow_create_an_empty_database_is_left_empty(engine):
    with pytest.raises(SchemaMissing, match='salla-sync db upgrade'):
        ensure_schema(engine, allow_create=False)
    assert tables(engine) == set()


def test_threads_creating_one_new_database_at_once_all_succeed(empty_database_url):
    engines = [make_engine(empty_database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    errors = []

    def start(engine):
        try:
            barrier.wait()
            ensure_schema(engine, allow_create=True)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
        assert drift(engines[0]) == []
    finally:
        for e in engines:
            e.dispose()


STARTER = """
import os, sys, time
from sync_core.store import Store
url, ready_dir, me, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
open(os.path.join(ready_dir, me), "w").close()
while len(os.listdir(ready_dir)) < count:  # start together
    time.sleep(0.002)
Store(url).close()
print("ok")
"""


def test_processes_starting_on_one_new_database_at_once_all_succeed(empty_database_url, tmp_path):
    ready = tmp_path / "ready"
    ready.mkdir()
    count = 3
    procs = [subprocess.Popen([sys.executable, "-c", STARTER, empty_database_url, str(ready), str(i), str(count)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=os.getcwd())
             for i in range(count)]
    outcomes = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outcomes):
        assert proc.returncode == 0 and out.strip() == "ok", err
    engine = make_engine(empty_database_url)
    try:
        assert current_revision(engine) == head_revision()
        assert drift(engine) == []
    finally:
        engine.dispose()


def test_the_migrations_run_from_the_package_without_an_alembic_ini(empty_database_url, tmp_path):
    code = ("import sys; from sync_core.store.schema import upgrade; from sync_core.store.database import make_engine;"
            "print(upgrade(make_engine(sys.argv[1])))")
    done = subprocess.run([sys.executable, "-c", code, empty_database_url], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"(None, '{head_revision()}')"
    assert not (tmp_path / "alembic.ini").exists()
