"""Device lists kept on disk for a while, so devices polling a large list do not rebuild it each time.

A list built for a reader is kept under its lineage: everything that decides what that reader may see
and how the list is written (the format, the organisation, the normalised parameters, the group's value
checks, each collection read with the clearance the reader reads it at), but not the data's growth.
A request whose lineage holds a copy gets that copy when its ETag is still the current one (the copy is
then exactly today's answer) or when it is at most `max_age_s` seconds old; otherwise the list is built
again. While it is, a copy at most `stale_s` seconds past max-age is still served (HTTP's
stale-while-revalidate, RFC 5861): under load a build of hundreds of thousands of values takes tens of
seconds, and every device asking meanwhile would otherwise wait for it. Authorization is the route's,
on every request, before the cache is asked.

Copies are files in a private directory (0700, files 0600), written to a temporary file and renamed
once complete: a build that fails leaves no entry. Each build also writes a gzip copy beside the list
(zlib level 1, as the list is written), served to the clients that accept it (`Content-Encoding:
gzip`): a few times smaller, which a device fetching it over a national network, and the server
writing it, feel. The cache holds at most `max_entries` copies and `max_bytes` bytes (both copies
count), the least recently used going first. One build runs per lineage at a time: a
request arriving while its lineage is being built follows that build (it streams the file as it is
written, and waits for the rest) instead of starting another. Builds run in a thread of their own, so
a slow or departed client neither slows nor cancels them.

The index of copies is in this process's memory: each server process keeps its own copies and builds
its own lists (docs/lookup-api.md, "Kept device lists").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from hub import metrics

__all__ = ["Build", "Copy", "DeviceListCache", "Kept"]

CHUNK = 1024 * 1024  # a kept list is served in few, large reads: each is a hop to a worker thread
GZIP_LEVEL = 1  # fast, and most of the gain for lists of values (nginx's default level too)
# the produce callable writes the list and fills the counts (items a collection) its audit events take
Produce = Callable[[dict[str, int]], Iterator[bytes]]


@dataclass(frozen=True)
class Kept:
    """One kept copy: its file, validators and size, the counts its audit events need, when built."""

    path: Path
    etag: str
    last_added_us: int | None
    size: int
    counts: dict[str, int]
    built_at: float
    gz_path: Path | None = None  # the same list gzip-compressed
    gz_size: int = 0

    @property
    def stored(self) -> int:
        """Bytes on disk: the list and its gzip copy."""
        return self.size + self.gz_size


@dataclass
class Copy:
    """A kept copy being served: the entry and its file, opened while the cache still held it."""

    kept: Kept
    file: BinaryIO
    age_s: int
    gzip: bool = False  # the file is the gzip copy: the answer's Content-Encoding is gzip

    def chunks(self) -> Iterator[bytes]:
        try:
            while True:
                data = self.file.read(CHUNK)
                if not data:
                    return
                yield data
        finally:
            self.file.close()

    def close(self) -> None:
        self.file.close()


@dataclass
class Build:
    """A list being built into a temporary file; followers stream it as it grows."""

    etag: str
    last_added_us: int | None
    path: Path
    gz_path: Path
    cond: threading.Condition = field(default_factory=threading.Condition)
    written: int = 0
    done: bool = False
    error: BaseException | None = None
    counts: dict[str, int] = field(default_factory=dict)


class Follower:
    """One request's view of a build: the file opened at the start, read as far as the build has written."""

    def __init__(self, build: Build, file: BinaryIO) -> None:
        self.build = build
        self._file = file
        self._pos = 0

    def _next(self) -> bytes | None:
        b = self.build
        with b.cond:
            while b.written <= self._pos and not b.done and b.error is None:
                b.cond.wait(1.0)
            if b.written <= self._pos:
                if b.error is not None:
                    raise RuntimeError("the device list's build failed") from b.error
                return None
            n = min(b.written - self._pos, CHUNK)
        data = self._file.read(n)
        self._pos += len(data)
        return data

    def first(self) -> bytes | None:
        """The first bytes, once the build has written some or ended; the build's own error if it failed
        before writing any (so the request answers as an uncached one would: a 503 for a database gone)."""
        b = self.build
        with b.cond:
            while b.written == 0 and not b.done and b.error is None:
                b.cond.wait(1.0)
            if b.written == 0 and b.error is not None:
                self.close()
                raise b.error
        try:
            return self._next()
        except BaseException:
            self.close()
            raise

    def rest(self, first: bytes | None) -> Iterator[bytes]:
        try:
            if first:
                yield first
            while True:
                data = self._next()
                if data is None:
                    return
                yield data
        finally:
            self.close()

    def close(self) -> None:
        self._file.close()


def private_directory(parent: Path | None) -> Path:
    """A new directory only this process's user may enter (0700), under `parent` or the system's
    temporary directory; `parent` is created 0700 when missing."""
    if parent is not None:
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="hub-device-lists-", dir=parent))


class DeviceListCache:
    """Kept device lists of one process, by lineage (see the module's docstring)."""

    def __init__(
        self,
        *,
        max_age_s: float,
        stale_s: float = 0,
        max_entries: int,
        max_bytes: int,
        parent: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s = max_age_s
        self.stale_s = stale_s
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self._parent = parent
        self._dir: Path | None = None
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, Kept] = OrderedDict()  # least recently used first
        self._building: dict[str, Build] = {}
        self._bytes = 0

    @property
    def directory(self) -> Path:
        """The private directory, made at the first build."""
        with self._lock:
            return self._directory()

    def _directory(self) -> Path:
        # made again if something removed it (a cleaner of old temporary files): its copies are gone too
        if self._dir is None or not self._dir.is_dir():
            self._dir = private_directory(self._parent)
        return self._dir

    def entries(self) -> dict[str, Kept]:
        with self._lock:
            return dict(self._kept)

    def kept(self, lineage: str, etag: str, *, gzip: bool = False) -> Copy | None:
        """The lineage's copy when it is today's answer (`etag`) or young enough; None otherwise. With
        `gzip` (the client accepts it) the gzip copy is opened instead."""
        with self._lock:
            return self._usable(lineage, etag, gzip)

    def young(self, lineage: str, *, gzip: bool = False) -> Copy | None:
        """The lineage's copy when it is at most max-age old, whatever the data's state: asked before the
        request reads what the reader sees now (the fingerprint's counts, linear in the collections)."""
        with self._lock:
            return self._usable(lineage, None, gzip)

    def _usable(self, lineage: str, etag: str | None, gzip: bool, *, stale: bool = False) -> Copy | None:
        """The lineage's copy, opened, when it is `etag`'s or at most max-age old (with `stale`, at most
        `stale_s` past it); None otherwise."""
        k = self._kept.get(lineage)
        if k is None:
            return None
        age = self.clock() - k.built_at
        if k.etag != etag and age > self.max_age_s + (self.stale_s if stale else 0):
            return None
        compressed = gzip and k.gz_path is not None
        try:
            f = (k.gz_path if compressed and k.gz_path is not None else k.path).open("rb")
        except OSError:  # removed behind the cache's back: forget it
            self._drop(lineage)
            return None
        self._kept.move_to_end(lineage)
        metrics.DEVICE_LISTS.labels("stale" if age > self.max_age_s and k.etag != etag else "kept").inc()
        return Copy(k, f, max(0, int(age)), gzip=compressed)

    def follow(
        self, lineage: str, etag: str, last_added_us: int | None, produce: Produce, *, gzip: bool = False
    ) -> Copy | Follower:
        """A usable copy (one may have been completed since `kept`), else the lineage's build in
        progress, else a new build of `produce` started in a thread of its own. The build is followed
        unless the lineage's copy is at most `stale_s` past max-age: then that copy is served while the
        build goes on. A build is followed uncompressed: its gzip copy is whole only at the end."""
        with self._lock:
            copy = self._usable(lineage, etag, gzip)
            if copy is not None:
                return copy
            b = self._building.get(lineage)
            started: Build | None = None
            if b is None:
                directory = self._directory()
                paths = []
                for prefix in ("building-", "building-gz-"):
                    fd, name = tempfile.mkstemp(prefix=prefix, dir=directory)
                    os.close(fd)  # mkstemp makes it 0600; the builder opens it again
                    paths.append(Path(name))
                b = Build(etag=etag, last_added_us=last_added_us, path=paths[0], gz_path=paths[1])
                try:
                    threading.Thread(
                        target=self._build, args=(lineage, b, produce), name="device-list-build", daemon=True
                    ).start()
                except BaseException:
                    for p in paths:
                        p.unlink()
                    raise
                self._building[lineage] = b
                started = b
                metrics.DEVICE_LISTS.labels("built").inc()
            stale = self._usable(lineage, etag, gzip, stale=True) if self.stale_s > 0 else None
            if stale is not None:
                return stale
            if b is not started:
                metrics.DEVICE_LISTS.labels("joined").inc()
            return Follower(b, b.path.open("rb"))

    def _build(self, lineage: str, b: Build, produce: Produce) -> None:
        counts: dict[str, int] = {}
        # gzip's container (wbits 31): what Content-Encoding: gzip means
        deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        try:
            with b.path.open("wb", buffering=0) as out, b.gz_path.open("wb") as gz:
                for chunk in produce(counts):
                    view = memoryview(chunk)
                    while view:
                        n = out.write(view)
                        view = view[n or 0 :]
                    with b.cond:
                        b.written += len(chunk)
                        b.cond.notify_all()
                    gz.write(deflate.compress(chunk))  # zlib lets the GIL go while it works
                gz.write(deflate.flush())
                gz_size = gz.tell()
            with self._lock:
                # the complete files take the lineage's place; followers keep reading the list through
                # their handles, whatever is renamed or removed meanwhile
                final = b.path.with_name(f"list-{os.urandom(8).hex()}")
                os.replace(b.path, final)
                gz_final = final.with_name(final.name + ".gz")
                os.replace(b.gz_path, gz_final)
                self._building.pop(lineage, None)
                self._drop(lineage)
                kept = Kept(
                    final, b.etag, b.last_added_us, b.written, dict(counts), self.clock(), gz_final, gz_size
                )
                self._kept[lineage] = kept
                self._bytes += kept.stored
                self._evict()
        except BaseException as exc:
            with self._lock:
                if self._building.get(lineage) is b:
                    del self._building[lineage]
                for p in (b.path, b.gz_path):
                    with contextlib.suppress(OSError):
                        p.unlink()
            with b.cond:
                b.error = exc
                b.cond.notify_all()
            if not isinstance(exc, Exception):
                raise
            return
        with b.cond:
            b.counts = dict(counts)
            b.done = True
            b.cond.notify_all()

    def _drop(self, lineage: str) -> None:
        old = self._kept.pop(lineage, None)
        if old is not None:
            self._bytes -= old.stored
            for p in (old.path, old.gz_path):
                if p is not None:
                    with contextlib.suppress(OSError):
                        p.unlink()  # a request still reading it keeps its handle

    def _evict(self) -> None:
        while self._kept and (len(self._kept) > self.max_entries or self._bytes > self.max_bytes):
            lineage = next(iter(self._kept))
            self._drop(lineage)
            metrics.DEVICE_LISTS.labels("evicted").inc()

    def close(self) -> None:
        """Forget every copy and remove the directory (builds still running end in an error)."""
        with self._lock:
            self._kept.clear()
            self._bytes = 0
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None
