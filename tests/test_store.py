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
