"""`hub sync`: scheduled feed jobs (load, list, run, history)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy import select

from hub.cli.app import app
from hub.cli.common import _fail, _sessions, _settings, _when, console, err
from hub.db import begin_write
from hub.errors import ConfigError

sync_app = typer.Typer(help="Scheduled feed jobs: load, list, run, history.", no_args_is_help=True)
app.add_typer(sync_app, name="sync")


def _print_run(c) -> None:  # type: ignore[no-untyped-def]
    o, job = c.outcome, c.job
    if o.ok:
        cursor = f"; cursor {o.cursor_after}" if o.cursor_after else ""
        line = f"{job.name}: ok: {o.summary(job.direction)}{cursor}"
    else:
        line = f"{job.name}: failed: {o.error}"
    console.print(line, highlight=False, markup=False, soft_wrap=True)
    for r in o.reasons:
        console.print(f"  {r}", highlight=False, markup=False, soft_wrap=True)


@sync_app.command("load")
def sync_load(path: Path = typer.Argument(..., help="feeds YAML")) -> None:
    """Create or update feeds from a YAML file (idempotent; cursors and run state are kept)."""
    from hub.sync.feeds import apply_feeds, read_feeds, unknown_references
    from hub.sync.scheduler import now_us

    try:
        cfg = read_feeds(path)
    except ConfigError as exc:
        _fail(str(exc))
    sm = _sessions(_settings().database_url)
    with sm() as session, session.begin():
        begin_write(session)  # a serving hub writes beside us (SQLite: never upgrade a reader)
        problems = unknown_references(session, cfg)
        if problems:
            (where, problem), *more = problems
            _fail(str(ConfigError(str(path), where, problem, more)))
        report = apply_feeds(session, cfg, now_us=now_us())
    for label, names in (
        ("created", report.created),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("stored but not in the file (left as they are)", report.not_in_file),
    ):
        if names:
            console.print(f"{label}: {', '.join(names)}", highlight=False, soft_wrap=True)
    for name in report.rule_reset:
        console.print(
            f"cursor reset: {name}: its redistribution rule changed, so its next run starts from the "
            "beginning (what the other side has counts as already there)",
            highlight=False,
            soft_wrap=True,
        )


@sync_app.command("list")
def sync_list() -> None:
    """List the feeds with their state: next run, cursor, failures, health, lease, last error."""
    from hub.sync.fetch import masked_url
    from hub.sync.models import Feed

    sm = _sessions(_settings().database_url)
    with sm() as session:
        feeds = list(session.scalars(select(Feed).order_by(Feed.name)))
    if not feeds:
        console.print("No feeds (`hub sync load FILE` declares them).")
    for f in feeds:
        where = f"{f.group_slug}/{f.collection}"
        url = masked_url(f.url)  # a feed stored before URLs with secrets were refused
        arrow = f"{url} -> {where}" if f.direction == "pull" else f"{where} -> {url}"
        state = "enabled" if f.enabled else "disabled"
        if f.unhealthy:
            state += f", UNHEALTHY ({f.failures} consecutive failures)"
        when = f"on cron '{f.schedule}'" if f.schedule else f"every {f.interval_s} s"
        relation = ""
        if f.direction == "pull" and f.upstream_default_tlp:
            source = "public upstream" if f.public else f"upstream of community {f.peer_community}"
            relation = f"  ({source}; unmarked there: {f.upstream_default_tlp}"
            relation += "; two-way: feedback goes back)" if f.two_way else ")"
        elif f.direction == "push":
            relation = (
                f"  (peer of community {f.peer_community})" if f.peer_community else "  (TLP:CLEAR only)"
            )
        console.print(
            f"{f.name}  {f.direction} {f.format} {arrow}{relation}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        console.print(
            f"  {state}, {when}, next run {_when(f.next_run_at_us)}, "
            f"cursor {f.cursor or '-'}, failures {f.failures}"
            + (f", feedback cursor {f.feedback_cursor or '-'}" if f.two_way else "")
            + (f", running on {f.leased_by} until {_when(f.lease_until_us)}" if f.leased_by else ""),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        if f.last_error:
            console.print(f"  last error: {f.last_error}", highlight=False, markup=False, soft_wrap=True)


@sync_app.command("run-once")
def sync_run_once(
    feed: str | None = typer.Option(None, "--feed", help="run this feed now, due or not"),
    worker_id: str | None = typer.Option(None, "--worker-id", help="recorded with each run (host:pid)"),
    lease_seconds: int = typer.Option(1800, help="how long a claim holds before another worker may take it"),
) -> None:
    """Run every due feed once (or one named feed now), then exit; exit 1 when a run failed."""
    from hub.sync.scheduler import ClaimError
    from hub.sync.worker import default_worker_id, run_due, run_named

    sm = _sessions(_settings().database_url)
    wid = worker_id or default_worker_id()
    stop = threading.Event()
    with _stop_on_signals(stop):
        if feed:
            try:
                done = [run_named(sm, feed, worker_id=wid, lease_s=lease_seconds, stop=stop)]
            except ClaimError as exc:
                _fail(str(exc))
            _print_run(done[0])
        else:
            done = run_due(sm, worker_id=wid, lease_s=lease_seconds, on_run=_print_run, stop=stop)
            if not done:
                console.print("No feed is due.")
    if any(not c.outcome.ok for c in done):
        raise typer.Exit(1)


@sync_app.command("worker")
def sync_worker(
    worker_id: str | None = typer.Option(None, "--worker-id", help="recorded with each run (host:pid)"),
    poll_seconds: float = typer.Option(10.0, help="how long to wait when no feed is due"),
    max_runs: int | None = typer.Option(None, help="exit after this many runs"),
    lease_seconds: int = typer.Option(1800, help="how long a claim holds before another worker may take it"),
) -> None:
    """Run due feeds until SIGINT or SIGTERM (the current run is interrupted and recorded first)."""
    from hub.cli.serve import _operate
    from hub.sync.notify import NotifyConfig
    from hub.sync.worker import Worker, default_worker_id

    wid = worker_id or default_worker_id()
    s = _settings()
    stop_metrics = _operate(s)
    worker = Worker(
        _sessions(s.database_url),
        worker_id=wid,
        poll_s=poll_seconds,
        lease_s=lease_seconds,
        max_runs=max_runs,
        on_run=_print_run,
        notify=NotifyConfig.from_settings(s, os.environ),
    )

    console.print(f"worker {wid} started", highlight=False)
    try:
        with _stop_on_signals(worker.stopping):
            runs = worker.run()
    finally:
        stop_metrics()
    console.print(f"worker {wid} stopped after {runs} runs", highlight=False)


@sync_app.command("runs")
def sync_runs(
    feed: str | None = typer.Option(None, "--feed", help="only this feed's runs"),
    limit: int = typer.Option(20, help="how many runs, newest first"),
) -> None:
    """The run history, newest first: who ran what, when, the counts, the cursor and any error."""
    from hub.sync.models import Feed, FeedRun

    sm = _sessions(_settings().database_url)
    stmt = select(FeedRun, Feed.name).join(Feed).order_by(FeedRun.started_us.desc(), FeedRun.id.desc())
    if feed:
        stmt = stmt.where(Feed.name == feed)
    with sm() as session:
        rows = list(session.execute(stmt.limit(limit)))
    if not rows:
        console.print("No runs.")
    for r, name in rows:
        secs = (r.finished_us - r.started_us) / 1e6
        counts = (
            f"read {r.read} new {r.created} versions {r.new_versions} unchanged {r.unchanged} "
            f"rejected {r.rejected} skipped {r.skipped} refused {r.refused} sent {r.sent}"
            + (f" withdrawn {r.withdrawn}" if r.withdrawn else "")
        )
        console.print(
            f"{_when(r.started_us)}  {name}  {r.status}  {secs:.1f} s  {r.worker_id}  {counts}  "
            f"cursor {r.cursor_before or '-'} -> {r.cursor_after or '-'}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        if r.error:
            console.print(f"  error: {r.error}", highlight=False, markup=False, soft_wrap=True)
        for note in (r.notes or "").splitlines():
            console.print(f"  {note}", highlight=False, markup=False, soft_wrap=True)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` (the run stops at its next checkpoint); asked twice, stop now."""
    import signal

    from hub.sync.fetch import RunInterrupted
    from hub.sync.jobs import in_run

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():  # asked twice: stop now; the run's lease expires and it is retried
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        err.print(f"{name}: stopping (the current run is interrupted and recorded)", highlight=False)
        stop.set()
        if in_run():  # also ends a request blocked on a silent upstream, rather than after its timeout
            raise RunInterrupted(f"interrupted: the worker was asked to stop ({name})")

    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


@sync_app.command("reset-cursor")
def sync_reset_cursor(
    feed: str = typer.Argument(..., help="the feed's name"),
    to: str | None = typer.Option(None, "--to", help="a timestamp to start after (default: the start)"),
) -> None:
    """Move a feed's cursor: cleared (the next run starts from the beginning) or set to --to."""
    from hub.sync.scheduler import ClaimError, reset_cursor

    sm = _sessions(_settings().database_url)
    try:
        with sm() as session, session.begin():
            begin_write(session)
            before = reset_cursor(session, name=feed, to=to)
    except ClaimError as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(f"--to: {exc}")
    after = to and _normal_cursor(to)
    console.print(
        f"{feed}: cursor {before or '-'} -> {after or '- (the next run starts from the beginning)'}",
        highlight=False,
        markup=False,
    )


def _normal_cursor(value: str) -> str:
    from hub.sync.sources import valid_cursor

    return valid_cursor(value)


@sync_app.command("release")
def sync_release(feed: str = typer.Argument(..., help="the feed's name")) -> None:
    """Clear a feed's lease, left by a worker that died, so it may run again at once."""
    from hub.sync.scheduler import ClaimError, release

    sm = _sessions(_settings().database_url)
    try:
        with sm() as session, session.begin():
            begin_write(session)
            holder = release(session, name=feed)
    except ClaimError as exc:
        _fail(str(exc))
    if holder is None:
        console.print(f"{feed}: no worker held it", highlight=False, markup=False)
    else:
        console.print(
            f"{feed}: released from worker {holder} (if it is alive, its run is kept as history only)",
            highlight=False,
            markup=False,
        )
