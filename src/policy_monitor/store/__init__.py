"""Storage: SQLAlchemy models (`schema`), opening and migrating the database (`db`), and the queries the
pipeline needs (`queries`)."""

from .db import Database
from .schema import (
    AlertRow,
    CheckRow,
    DeliveryRow,
    ExtractionRow,
    FactRow,
    MismatchRow,
    SnapshotRow,
    SourceRow,
)

__all__ = [
    "AlertRow",
    "CheckRow",
    "Database",
    "DeliveryRow",
    "ExtractionRow",
    "FactRow",
    "MismatchRow",
    "SnapshotRow",
    "SourceRow",
]
