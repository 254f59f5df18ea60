"""Opening the database: engine settings per dialect, and the schema brought up to date by Alembic."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ConfigError, DatabaseError

log = logging.getLogger(__name__)


def open_engine(url: str) -> Engine:
    """An engine for `url` (SQLAlchemy URL). SQLite gets WAL, a busy timeout and foreign keys."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"--db: {url!r} is not a database URL. Use e.g. sqlite:///monitor.db.") from None
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    elif parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        try:
            import psycopg  # noqa: F401

            parsed = parsed.set(drivername="postgresql+psycopg")
        except ImportError:
            pass
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as e:
        hint = (
            "Install it: pip install 'policy-monitor[postgres]'."
            if parsed.get_backend_name() == "postgresql"
            else "Use SQLite (sqlite:///monitor.db) or PostgreSQL (postgresql://user@host/db)."
        )
        raise ConfigError(f"--db: no driver for {parsed.drivername} ({e}). {hint}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process; WAL keeps it consistent
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


HEAD = "0004"  # the newest migration in migrations/versions (a test checks it against Alembic's head)


def at_head(engine: Engine) -> bool:
    """True when the schema is at the newest migration: start-up then skips loading Alembic."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    except SQLAlchemyError:
        return False


def upgrade(engine: Engine, force: bool = False) -> None:
    """Create or upgrade the schema to the newest migration. An empty database gets the newest schema at
    once (the models' tables, stamped with HEAD: a test holds the migrations to the same schema), so a first
    run does not load Alembic and replay every migration."""
    if not force and at_head(engine):
        return
    if not force and _create_if_empty(engine):
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", migrations_dir())
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as e:
        first = str(e.orig).strip().splitlines()[0] if str(e.orig).strip() else type(e.orig).__name__
        where = engine.url.render_as_string(hide_password=True)
        hint = (
            "Check that the directory exists and is writable."
            if engine.dialect.name == "sqlite"
            else "Check that the server is running and the URL is right."
        )
        raise DatabaseError(f"database {where}: {first}. {hint}") from None
    except SQLAlchemyError as e:
        raise DatabaseError(
            f"database {engine.url.render_as_string(hide_password=True)} could not be upgraded: {e}"
        ) from None


def _create_if_empty(engine: Engine) -> bool:
    from .schema import Base

    try:
        with engine.begin() as conn:
            if inspect(conn).get_table_names():
                return False
            Base.metadata.create_all(conn)
            version = Table(
                "alembic_version",
                MetaData(),
                Column("version_num", String(32), primary_key=True),
            )
            version.create(conn)
            conn.execute(version.insert().values(version_num=HEAD))
        return True
    except SQLAlchemyError:
        return False  # let the migration path report it


def migrations_dir() -> str:
    """Where the Alembic scripts are: the repository's migrations/, installed as policy_monitor.migrations."""
    import importlib

    module = importlib.import_module("policy_monitor.migrations")
    return str(Path(module.__file__ or "").parent)


def current_revision(engine: Engine) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class Database:
    """An engine with an up-to-date schema and a session factory: what the pipeline is given."""

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        self.engine = open_engine(url)
        try:
            if migrate:
                upgrade(self.engine)
        except Exception:
            self.engine.dispose()
            raise
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    def tables(self) -> list[str]:
        return inspect(self.engine).get_table_names()

    def close(self) -> None:
        self.engine.dispose()
