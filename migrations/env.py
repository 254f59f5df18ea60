"""Alembic environment: run with a connection handed over by policy_monitor.store.db.upgrade (no alembic.ini).

`alembic revision --autogenerate` also works from the repository root with
`-x url=sqlite:///dev.db` (see docs/deploy.md)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from policy_monitor.store.schema import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    # APScheduler may keep its job table in the same database: never touch it.
    return not (type_ == "table" and name.startswith("apscheduler"))


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///monitor.db")
        with create_engine(url).connect() as connection:
            _migrate(connection)
            connection.commit()
    else:
        _migrate(connection)


def _migrate(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
