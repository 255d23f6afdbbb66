"""``salla-sync db upgrade`` / ``db current`` (the click group in sync_core.db_cli)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from sync_core.db_cli import db
from sync_core.store.schema import head_revision, upgrade
from sync_core.store.database import make_engine


@pytest.fixture
def run(empty_database_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", empty_database_url)

    def run(*args):
        return CliRunner().invoke(db, list(args), catch_exceptions=False)

    return run


def test_current_on_an_empty_database_then_upgrade_then_current(run):
    head = head_revision()
    done = run("current")
    assert done.exit_code == 1 and done.stdout.startswith("none: the database is empty")
    done = run("upgrade")
    assert done.exit_code == 0, done.stdout
    assert done.stdout.strip() == f"database schema upgraded: empty -> {head}"
    done = run("current")
    assert done.exit_code == 0 and done.stdout.strip() == f"{head} (head)"
    done = run("upgrade")
    assert done.exit_code == 0 and done.stdout.strip() == f"database schema already at {head} (head): nothing to do"


def test_a_database_behind_is_reported_then_upgraded(run, empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine, "0001")
    finally:
        engine.dispose()
    head = head_revision()
    done = run("current")
    assert done.exit_code == 1 and done.stdout.strip() == f'0001 (behind head {head}: run "salla-sync db upgrade")'
    done = run("upgrade")
    assert done.exit_code == 0 and done.stdout.strip() == f"database schema upgraded: 0001 -> {head}"


def test_a_database_it_cannot_place_exits_2_in_one_line(run, empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE something_else (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()
    result = CliRunner().invoke(db, ["upgrade"])
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "something_else" in line


def test_a_bad_database_url_exits_2(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "not-a-url")
    result = CliRunner().invoke(db, ["current"])
    assert result.exit_code == 2 and "DATABASE_URL" in result.stderr


def test_a_database_from_before_migrations_is_stamped_then_upgraded(run, empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()
    done = run("current")
    assert done.exit_code == 1 and done.stdout.startswith("none: tables from before migrations")
    done = run("upgrade")
    assert done.exit_code == 0 and done.stdout.strip() == f"database schema upgraded: 0001 -> {head_revision()}"
