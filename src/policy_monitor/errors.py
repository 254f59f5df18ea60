"""The exceptions policy-monitor raises, and what the command line makes of them.

    MonitorError                 base: a problem the user can act on; str() is the whole message
    ├── ConfigError              sources.yaml (or an option) is wrong: exit code 2, nothing fetched or written
    ├── DatabaseError            the database cannot be opened or upgraded: exit code 1
    └── ChannelUnavailable       an alert channel needs an optional extra that is not installed

Fetch failures are not exceptions: a failed check is an ordinary outcome (`fetch.FetchResult.failed`),
stored with its reason, and the run goes on with the other sources.
"""

from __future__ import annotations


class MonitorError(Exception):
    """A problem the user can act on. The message says what is wrong and what to do."""

    exit_code = 1


class ConfigError(MonitorError):
    """The sources file or a command-line value is invalid."""

    exit_code = 2


class DatabaseError(MonitorError):
    """The database cannot be reached, created or upgraded."""

    exit_code = 1


class ChannelUnavailable(MonitorError):
    """An alert channel cannot be used on this installation (for example a missing optional extra)."""

    exit_code = 2
