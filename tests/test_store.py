"""Storage: the schema comes from Alembic on both databases, and the start-up shortcut knows the head."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from policy_monitor.store import Database
from policy_monitor.store.db import HEAD, at_head, current_revision, migrations_dir


def test_head_constant_matches_the_newest_migration() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", migrations_dir())
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD


def test_schema_created_and_upgraded(db_url: str) -> None:
    db = Database(db_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
        assert {
            "sources",
            "checks",
            "snapshots",
            "extractions",
            "facts",
            "alerts",
            "deliveries",
            "mismatches",
        } <= tables
        assert current_revision(db.engine) == HEAD and at_head(db.engine)
    finally:
        db.close()
    again = Database(db_url)  # a second start finds the schema current and changes nothing
    assert current_revision(again.engine) == HEAD
    again.close()


def test_the_migrations_build_exactly_the_schema_of_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from policy_monitor.store.db import open_engine, upgrade
    from policy_monitor.store.schema import Base

    engine = open_engine(db_url)
    try:
        upgrade(engine, force=True)  # every migration, in order, from nothing
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []  # so a new database may be created from the models directly
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_a_new_database_is_created_at_head_without_replaying_migrations(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        assert current_revision(db.engine) == HEAD
        assert "robots" in inspect(db.engine).get_table_names()
    finally:
        db.close()
