"""`hub serve` and `hub demo`."""

from __future__ import annotations

import ctypes
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from sqlalchemy import select

from hub.cli.app import app
from hub.cli.common import _fail, _safe_url, _sessions, _settings, console, write_secret_file
from hub.cli.trust import _load, _print_keys
from hub.db import make_engine
from hub.environment import require_existing_database
from hub.schema import SchemaOutOfDate, check_schema, upgrade
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.trust.schemas import IssuedKey


def _demo_config() -> Path:
    """The demo trust groups, shipped inside the package as `hub.examples` (config/ in the source)."""
    from importlib.resources import files

    return Path(str(files("hub.examples").joinpath("trust-groups.example.yaml")))


DEMO_CONFIG = _demo_config()


M_ARENA_MAX = -8  # glibc's malloc.h


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap the C library's malloc arenas at `arenas` (glibc's mallopt M_ARENA_MAX); False when not capped
    (0 asked, or a C library without the setting).

    glibc gives each thread that allocates while another holds an arena a new one, up to eight per
    core; memory freed into one arena is reused only by the threads on it. The server's request
    threads (uvicorn's pool) each allocate and free SQLite page caches and result rows, so with many
    arenas each one holds its own high-water mark of free memory and the process grows with the load's
    duration rather than its size. Called before the server starts its threads; arenas that exist
    already are kept.
    """
    if arenas <= 0:
        return False
    mallopt = _libc("mallopt", (ctypes.c_int, ctypes.c_int))
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, arenas))


def trim_malloc() -> bool:
    """Hand the memory glibc's malloc holds free back to the system (malloc_trim(0): the top of each
    arena's heap and, since glibc 2.8, whole free pages inside it); False where there is no such call."""
    malloc_trim = _libc("malloc_trim", (ctypes.c_size_t,))
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True


def _libc(name: str, argtypes: tuple[Any, ...]) -> Any:
    """The C library's function `name` (returning an int), or None off Linux or where it has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes = argtypes
    fn.restype = ctypes.c_int
    return fn


def start_malloc_trimmer(every_s: float) -> Callable[[], None]:
    """Trim malloc's free memory every `every_s` seconds in a thread of its own until the returned function
    is called (nothing at 0, or without glibc).

    A server's request threads allocate and free result rows, page caches and bodies all day; glibc keeps
    what they free for reuse, in pages spread through its heaps, so RSS stays at the high-water mark of
    the busiest moment and creeps up with fragmentation. Trimming returns the free pages; a trim walks
    the heaps' free lists (a few milliseconds for a few hundred MB) while holding malloc's lock.
    """
    import threading

    if every_s <= 0 or not trim_malloc():
        return lambda: None
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every_s):
            trim_malloc()

    threading.Thread(target=run, name="malloc-trim", daemon=True).start()
    return stop.set


def _serve(s: Settings) -> None:
    import gc

    import uvicorn

    from hub.app import create_app

    limit_malloc_arenas(s.malloc_arena_max)  # first: before any thread of the server allocates
    require_existing_database(s.database_url)
    engine = make_engine(s.database_url)
    try:
        check_schema(engine)
    except SchemaOutOfDate as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    _port_free(s.host, s.port)
    stop_metrics = _operate(s)
    stop_trimming = start_malloc_trimmer(s.malloc_trim_seconds)
    try:
        hub = create_app(s)
        # what is alive now (modules, the app, its routes and schemas) lives as long as the process:
        # out of the collector's generations, every full collection stops walking it again, which
        # was a sixth of ingest's CPU (an envelope's parsed objects trigger several collections)
        gc.collect()
        gc.freeze()
        # uvicorn's own access log stays off: hub.access writes one structured line a request instead
        uvicorn.run(hub, host=s.host, port=s.port, log_config=None, access_log=False)
    finally:
        stop_trimming()
        stop_metrics()


def _port_free(host: str, port: int) -> None:
    """Fail with one line when the address cannot be listened on (another process has the port), as
    uvicorn would find a moment later, but before it logs its own error in the hub's log format."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            sock.bind((host, port))
    except OSError as exc:
        why = exc.strerror or str(exc)
        _fail(
            f"cannot listen on {host}:{port}: {why} "
            "(another process may have the port: stop it, or give --port)"
        )


def _operate(s: Settings) -> Callable[[], None]:
    """Structured logs, and the metrics port when one is set, for a long-running process; returns the
    function that stops both at exit."""
    from hub.metrics import serve_metrics
    from hub.observability import configure_logging

    undo_logging = configure_logging(s.log_format, s.log_level)
    server = serve_metrics(s.metrics_port, s.metrics_host) if s.metrics_port else None

    def stop() -> None:
        if server is not None:
            server.shutdown()
            server.server_close()
        undo_logging()

    return stop


@app.command()
def serve(
    host: str = typer.Option(None, help="address to listen on (HUB_HOST)"),
    port: int = typer.Option(None, help="port (HUB_PORT)"),
) -> None:
    """Serve the TAXII 2.1 API (refuses an out-of-date schema)."""
    _serve(_settings(host=host, port=port))


@app.command()
def demo(
    host: str = typer.Option(None, help="address to listen on"),
    port: int = typer.Option(None, help="port"),
    config: Path | None = typer.Option(
        None, help="trust-groups YAML to load (default: HUB_TRUST_CONFIG, else the demo groups)"
    ),
    keys_json: Path | None = typer.Option(
        None, "--keys-json", help="also write orgs, keys, API roots and collection ids as JSON here"
    ),
    serve_: bool = typer.Option(True, "--serve/--no-serve", help="serve after loading"),
    worker: bool = typer.Option(
        True, "--worker/--no-worker", help="run due feeds in this process too (as `hub sync worker` does)"
    ),
) -> None:
    """Migrate, load the demo trust groups, print how to connect, and serve (with a sync worker, so a
    feed added and run from the console or `hub feed run` runs at once)."""
    s = _settings(host=host, port=port)
    upgrade(s.database_url)
    issued = _load(s, config or s.trust_config or DEMO_CONFIG)
    base = s.public_url.rstrip("/") if s.public_url else f"http://{s.host}:{s.port}"
    summary = _demo_summary(s, base, issued)
    if keys_json:
        write_secret_file(keys_json, json.dumps(summary, indent=2))
        console.print(f"wrote {keys_json}")
    console.print(
        f"\n[bold]Discovery:[/] {escape(base)}/taxii2/   (database: {escape(_safe_url(s))})", markup=True
    )
    _print_keys(issued)
    _print_collections(summary)
    _print_console(s, base, issued)
    console.print(
        "\nTry:  curl -H 'Accept: application/taxii+json;version=2.1' "
        f"-H 'Authorization: Bearer <key>' {base}/taxii2/",
        soft_wrap=True,
        highlight=False,
    )
    if serve_:
        stop_worker = _demo_worker(s) if worker else None
        try:
            _serve(s)
        finally:
            if stop_worker is not None:
                stop_worker()


def _demo_worker(s: Settings) -> Callable[[], None]:
    """A sync worker in a thread of the demo's process (polling every 2 s); returns what stops it."""
    import threading

    from hub.sync.worker import Worker, default_worker_id

    w = Worker(_sessions(s.database_url), worker_id=default_worker_id() + ":demo", poll_s=2.0)
    thread = threading.Thread(target=w.run, name="hub-demo-worker", daemon=True)
    thread.start()
    console.print(
        "A sync worker runs due feeds in this process "
        "(`hub demo --no-worker` leaves them to `hub sync worker`).",
        highlight=False,
    )

    def stop() -> None:
        w.stop()
        thread.join(30)

    return stop


def _print_console(s: Settings, base: str, issued: list[IssuedKey]) -> None:
    """The console's URL and a demo sign-in for each coordinating organisation (its `console` account,
    with a fresh password), naming the groups it coordinates."""
    import secrets

    from hub.cli.webconsole import set_console_password
    from hub.trust.models import Membership, Organisation, TrustGroup

    with _sessions(s.database_url)() as session:
        rows = session.execute(
            select(Organisation.slug, TrustGroup.slug)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .join(TrustGroup, TrustGroup.id == Membership.group_id)
            .where(Membership.role == "coordinator")
            .order_by(Organisation.slug, TrustGroup.slug)
        ).all()
    coordinates: dict[str, list[str]] = {}
    for org, group in rows:
        coordinates.setdefault(org, []).append(group)
    console.print(f"\n[bold]Web console:[/] {escape(base)}/console/", highlight=False, markup=True)
    for org, groups in coordinates.items():
        password = secrets.token_urlsafe(12)
        set_console_password(s.database_url, f"console@{org}", password, create=True)
        console.print(
            f"  sign in as console@{org} with password {password}   (coordinates {', '.join(groups)})",
            highlight=False,
            markup=False,
        )


def _print_collections(summary: dict[str, Any]) -> None:
    seen: dict[str, dict[str, str]] = {}
    for org in summary["organisations"].values():
        for group, root in org["api_roots"].items():
            seen.setdefault(group, {}).update(root["collections"])
    console.print("[bold]Collections[/] (group/alias: id, for the objects URL):", markup=True)
    for group in sorted(seen):
        for alias, cid in sorted(seen[group].items()):
            console.print(f"  {group}/{alias}: {cid}", highlight=False, markup=False)


def _demo_summary(s: Settings, base: str, issued: list[IssuedKey]) -> dict[str, Any]:
    from hub.trust.models import Collection, Membership, Organisation, TrustGroup

    sm = _sessions(s.database_url)
    keys = {k.organisation: k.key for k in issued}
    out: dict[str, Any] = {"discovery": f"{base}/taxii2/", "organisations": {}}
    with sm() as session:
        groups = {g.id: g for g in session.scalars(select(TrustGroup))}
        colls = list(session.scalars(select(Collection)))
        for org in session.scalars(select(Organisation).order_by(Organisation.slug)):
            ms = list(session.scalars(select(Membership).where(Membership.organisation_id == org.id)))
            out["organisations"][org.slug] = {
                "identity": org.identity_id,
                "key": keys.get(org.slug),
                "api_roots": {
                    groups[m.group_id].slug: {
                        "url": f"{base}/taxii2/{groups[m.group_id].slug}/",
                        "role": m.role,
                        "collections": {c.alias: c.id for c in colls if c.group_id == m.group_id},
                    }
                    for m in ms
                },
            }
    return out
