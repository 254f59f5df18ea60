"""The `monitor` command: parses options and calls the library. No logic lives here.

Exit codes: 0 every source checked; 3 the run finished but some sources could not be fetched or read;
2 usage or configuration error; 1 anything else.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import __version__, logs
from .errors import ConfigError, MonitorError

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("policy_monitor")


class Settings:
    """Global options, resolved once at the entry point; registry and database opened on first use."""

    def __init__(self, sources: str, db: str):
        self.sources_path = sources
        self.db_url = db
        self._registry: Any = None
        self._db: Any = None

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from .notify import check_available
            from .registry import load_registry

            registry = load_registry(self.sources_path)
            self._check_browser(registry)
            for i, ch in enumerate(registry.notify):
                try:
                    check_available(ch)
                except MonitorError as e:
                    raise ConfigError(f"{self.sources_path}: notify[{i}]: {e}") from None
            self._registry = registry
        return self._registry

    @property
    def db(self) -> Any:
        if self._db is None:
            from .store import Database

            self._db = Database(self.db_url)
        return self._db

    def _check_browser(self, registry: Any) -> None:
        """Sources with `render: browser` need Playwright and Chromium: say so before anything runs."""
        from .render import check_available

        for i, v in enumerate(registry.vendors):
            for j, src in enumerate(v.sources):
                if src.render == "browser":
                    try:
                        check_available()
                    except MonitorError as e:
                        raise ConfigError(f"{self.sources_path}: vendors[{i}].sources[{j}].render: {e}") from None
                    return

    def registry_and_db(self) -> tuple[Any, Any]:
        """The database, opened only once the sources file proved valid: a bad file writes nothing."""
        registry = self.registry
        return self.db, registry

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


class MonitorGroup(click.Group):
    """Turns a MonitorError anywhere below into one line on stderr and its exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(e.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # `monitor alerts --json | head`: the reader left, which is fine
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except Exception as e:
            if os.environ.get("MONITOR_DEBUG"):
                raise
            click.echo(f"Error: unexpected {type(e).__name__}: {e}. Set MONITOR_DEBUG=1 for the traceback.", err=True)
            ctx.exit(1)


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="policy-monitor")
@click.option(
    "--sources",
    default="sources.yaml",
    envvar="MONITOR_SOURCES",
    show_default=True,
    metavar="PATH",
    help="The registry of vendors and pages to watch (env MONITOR_SOURCES).",
)
@click.option(
    "--db",
    default="sqlite:///monitor.db",
    envvar="MONITOR_DB",
    show_default=True,
    metavar="URL",
    help="SQLAlchemy database URL, e.g. postgresql://user@host/db (env MONITOR_DB).",
)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", help="Log lines on stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr and no summary line (for cron).")
@click.option("-v", "--verbose", is_flag=True, help="More detail on stderr.")
@click.pass_context
def cli(ctx: click.Context, sources: str, db: str, log_format: str, quiet: bool, verbose: bool) -> None:
    """policy-monitor: watch AI vendors' data-usage pages, read their retention and training statements,
    and alert when they change or differ from the published tables.

    \b
    Quick start:
      monitor registry            what is watched, and what each table claims
      monitor run                 check every due page once
      monitor status              facts observed vs expected, per vendor
      monitor alerts              what changed, and whether it was delivered
    """
    logs.setup(log_format, logging.DEBUG if verbose else logging.INFO, quiet)
    ctx.obj = Settings(sources, db)
    ctx.meta["quiet"] = quiet
    ctx.call_on_close(ctx.obj.close)


# --- registry -------------------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="The normalised registry as JSON.")
@click.option("--conflicts", is_flag=True, help="Where the published tables disagree with each other.")
@click.pass_obj
def registry(obj: Settings, as_json: bool, conflicts: bool) -> None:
    """Show the loaded registry: vendors, pages, expected facts and the published tables' claims."""
    from .registry_view import find_conflicts, render_conflicts, render_table

    reg = obj.registry
    if conflicts:
        found = find_conflicts(reg)
        if as_json:
            emit_json([c.to_dict() if hasattr(c, "to_dict") else c.__dict__ for c in found])
        else:
            click.echo(render_conflicts(found))
    elif as_json:
        emit_json(reg.public_dict())
    else:
        click.echo(render_table(reg))


# --- run and daemon -------------------------------------------------------------------------------------


@cli.command()
@click.option("--vendor", "vendors", multiple=True, metavar="ID", help="Only this vendor (repeatable).")
@click.option("--force", is_flag=True, help="Check every source now, due or not.")
@click.pass_context
def run(ctx: click.Context, vendors: tuple[str, ...], force: bool) -> None:
    """Check every due source once: fetch, store, extract facts, compare, raise and deliver alerts.

    Exit code 0 when every source was checked, 3 when some could not be fetched or read."""
    from .run import run_pass

    settle()
    obj: Settings = ctx.obj
    reg = obj.registry
    unknown = [v for v in vendors if reg.vendor(v) is None]
    if unknown:
        raise ConfigError(
            f"--vendor: {', '.join(unknown)} not in {obj.sources_path}. `monitor registry` lists the ids."
        )
    db = obj.db
    bar = _progress() if sys.stderr.isatty() and not ctx.meta["quiet"] else None
    summary = asyncio.run(
        run_pass(
            reg,
            db,
            vendors=list(vendors) or None,
            force=force,
            on_total=bar.start if bar else None,
            on_progress=bar.step if bar else None,
        )
    )
    if bar:
        bar.finish()
    if not ctx.meta["quiet"]:
        click.echo(summary.line())  # each failure was logged on stderr as it happened
    ctx.exit(summary.exit_code)


class _progress:
    """A progress bar on stderr while a run checks its sources."""

    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, total: int) -> None:
        self.bar = click.progressbar(length=total, label="checking", file=sys.stderr, show_pos=True)
        self.bar.__enter__()

    def step(self, job: Any, outcome: str) -> None:
        if self.bar is not None:
            self.bar.label = f"{job.vendor.id:<16.16} {outcome:<9}"
            self.bar.update(1)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@cli.command()
@click.pass_obj
def daemon(obj: Settings) -> None:
    """Run as a service: check each source on its schedule, retry deliveries, reload on SIGHUP, stop on
    SIGTERM/SIGINT after the checks in flight."""
    from .daemon import Daemon

    settle()

    db, registry = obj.registry_and_db()  # a bad file is refused before anything starts
    Daemon(obj.sources_path, db, registry).serve()


# --- facts ----------------------------------------------------------------------------------------------


@cli.command()
@click.argument("page")
@click.option("--json", "as_json", is_flag=True, help="Summary and facts as JSON (SPEC §3).")
@click.option("--select", default=None, help="CSS selector of the policy text (HTML pages).")
def extract(page: str, as_json: bool, select: str | None) -> None:
    """Read the facts of one page (a file or an http(s) URL) without touching the database."""
    from .extract_page import extract_page

    result = extract_page(page, select=select)
    if as_json:
        emit_json(result)
        return
    s = result["summary"]
    for f in ("retention", "flagged_retention", "training", "zdr_available"):
        v = s.get(f)
        click.echo(f"{f:<18} {'(not stated)' if v is None else v}")
    for fact in result["facts"]:
        click.echo(f"\n- {fact['kind']}={fact['value']} scope={fact['scope']} condition={fact['condition']}")
        click.echo(f'  "{fact["evidence"]}"')


@cli.command()
@click.option("--vendor", "vendors", multiple=True, metavar="ID", help="Only this vendor (repeatable).")
@click.pass_obj
def reextract(obj: Settings, vendors: tuple[str, ...]) -> None:
    """Re-read facts from stored snapshots after the extractor improved. Raises no fact_changed: an
    upgrade of ours is not a change of the vendor's (registry mismatches are re-checked)."""
    from .reextract import reextract as do

    settle()

    n, changed = do(*obj.registry_and_db(), list(vendors) or None)
    click.echo(f"re-extracted {n} snapshot(s); {changed} summary(ies) read differently")


# --- reading the database -------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--vendor", "vendors", multiple=True, metavar="ID")
@click.pass_obj
def status(obj: Settings, as_json: bool, vendors: tuple[str, ...]) -> None:
    """Per source: last check, last change, last error; per vendor: facts observed vs expected."""
    from . import views

    data = views.status(*obj.registry_and_db(), list(vendors) or None)
    if as_json:
        emit_json(data)
        return
    for v in data:
        click.echo(f"{v['vendor']} ({v['name']})")
        for s in v["sources"]:
            state = s["last_outcome"] or "never checked"
            err = f"  ! {s['last_error']}" if s["last_error"] else ""
            click.echo(f"  {state:<10} {s['last_check'] or '-':<20} {s['url']}{err}")
        for f in v["facts"]:
            mark = {"ok": "ok", "mismatch": "MISMATCH", "unverified": "unverified"}.get(f["state"], f["state"])
            click.echo(
                f"    {f['field']:<18} expected {f['expected'] or '-':<10} observed {f['observed'] or '-':<14} {mark}"
            )


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "show_all", is_flag=True, help="Include acknowledged alerts.")
@click.option("--diff", "diff_of", type=int, metavar="ID", help="Print the diff of one page_changed alert.")
@click.pass_obj
def alerts(obj: Settings, as_json: bool, show_all: bool, diff_of: int | None) -> None:
    """Alerts not yet acknowledged, newest last, with their delivery state."""
    from . import views

    if diff_of is not None:
        click.echo(views.alert_diff(obj.db, diff_of) or f"alert {diff_of} has no diff")
        return
    data = views.alerts(obj.db, include_acked=show_all)
    if as_json:
        emit_json(data)
        return
    if not data:
        click.echo("no alerts" if show_all else "no unacknowledged alerts")
    for a in data:
        change = f"{a['field']}: {a['old']} -> {a['new']}" if a["field"] else (a["new"] or a["evidence"] or "")
        click.echo(f"#{a['id']:<5} {a['created_at']} {a['kind']:<17} {a['vendor']:<14} {change}  [{a['status']}]")
        if a["url"]:
            click.echo(f"       {a['url']}")
        for d in a["deliveries"]:
            if d["status"] != "sent" and d["last_error"]:
                click.echo(f"       {d['channel']}: {d['status']} after {d['attempts']} attempt(s): {d['last_error']}")


@cli.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@click.pass_obj
def ack(obj: Settings, ids: tuple[int, ...]) -> None:
    """Acknowledge alerts by id."""
    from . import views

    done, unknown = views.ack(obj.db, ids)
    if done:
        click.echo(f"acknowledged {', '.join(map(str, done))}")
    if unknown:
        raise ConfigError(f"no alert {', '.join(map(str, unknown))}. `monitor alerts --all` lists them.")


@cli.command()
@click.argument("target", metavar="URL_OR_VENDOR")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def history(obj: Settings, target: str, as_json: bool) -> None:
    """The snapshots of a page (or of every page of a vendor) over time."""
    from . import views

    data = views.history(*obj.registry_and_db(), target)
    if as_json:
        emit_json(data)
        return
    for src in data:
        click.echo(f"{src['vendor']} {src['url']}")
        for n in src["snapshots"]:
            s = n["summary"] or {}
            facts = " ".join(f"{k}={v}" for k, v in s.items() if v is not None)
            click.echo(f"  snapshot {n['snapshot']:<5} {n['created_at']}  {n['chars']:>7} chars  {facts}")


@cli.command()
@click.argument("target", metavar="URL_OR_VENDOR")
@click.option("--from", "frm", type=int, metavar="N", help="Snapshot id to compare from.")
@click.option("--to", type=int, metavar="M", help="Snapshot id to compare to.")
@click.pass_obj
def diff(obj: Settings, target: str, frm: int | None, to: int | None) -> None:
    """The text diff between two snapshots (default: the last two)."""
    from . import views

    for text in views.diff(*obj.registry_and_db(), target, frm, to):
        click.echo(text)


@cli.group(cls=MonitorGroup)
def db() -> None:
    """Database maintenance."""


@db.command()
@click.pass_obj
def upgrade(obj: Settings) -> None:
    """Create or upgrade the database schema (runs automatically on every command too)."""
    from .store.db import current_revision

    click.echo(f"database at revision {current_revision(obj.db.engine)}")


# --- entry point ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """The console script `monitor`."""
    gc.disable()  # start-up allocates much and frees little: no collections until the work begins (settle)
    cli.main(args=argv, prog_name="monitor")


def settle() -> None:
    """Once a long command has imported what it needs: keep those objects out of every future collection,
    and collect less often (the work makes many short-lived objects and few cycles). Only where `main`
    turned collection off, so a program that calls the commands in-process keeps its own settings."""
    if gc.isenabled():
        return
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    gc.enable()
