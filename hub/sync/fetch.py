"""Fetching feed payloads: local files, HTTP(S) URLs, MISP feeds and upstream TAXII collections."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

MAX_FEED_BYTES = 1024 * 1024 * 1024  # a feed larger than 1 GiB is almost certainly a mistake
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class FetchError(RuntimeError):
    """A feed could not be fetched; the message says where and why."""


def is_url(source: str) -> bool:
    """True for http:// and https:// sources."""
    return source.startswith(("http://", "https://"))


def read_source(
    source: str, *, client: httpx.Client | None = None, headers: dict[str, str] | None = None
) -> bytes:
    """The bytes of a local file or an HTTP(S) URL, refusing anything over MAX_FEED_BYTES."""
    if not is_url(source):
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise FetchError(f"{source}: {exc.strerror or exc}") from None
        if size > MAX_FEED_BYTES:
            raise FetchError(f"{source}: {size} bytes is over the {MAX_FEED_BYTES}-byte limit for one feed")
        return path.read_bytes()
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT, follow_redirects=True)
    try:
        with http.stream("GET", source, headers=headers) as resp:
            if resp.status_code != 200:
                raise FetchError(f"{source}: HTTP {resp.status_code}")
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_FEED_BYTES:
                    raise FetchError(f"{source}: over the {MAX_FEED_BYTES}-byte limit for one feed")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise FetchError(f"{source}: {type(exc).__name__}: {exc}") from None
    finally:
        if own:
            http.close()


def misp_feed_loader(
    source: str, *, client: httpx.Client | None = None
) -> tuple[bytes, Callable[[str], bytes]]:
    """A MISP feed's manifest.json and a loader of its event files, from a folder or a base URL."""
    base = source.rstrip("/")
    manifest = read_source(f"{base}/manifest.json", client=client)
    return manifest, lambda name: read_source(f"{base}/{name}", client=client)


@dataclass
class TaxiiPage:
    """One page pulled from an upstream TAXII collection, and where the next pull should start."""

    objects: list[dict[str, Any]]
    date_added_last: str | None


def taxii_pages(
    url: str,
    *,
    user: str | None = None,
    password: str | None = None,
    added_after: str | None = None,
    per_request: int = 1000,
    version: str = "2.1",
) -> Iterator[TaxiiPage]:
    """Pull every object of an upstream TAXII 2.1 (or 2.0) collection added after `added_after`.

    taxii2-client does the paging (TAXII 2.1 `next`, TAXII 2.0 Range headers); the cursor for the next
    incremental pull is the X-TAXII-Date-Added-Last header of the last page, read through a response
    hook on taxii2-client's requests session (the client does not expose headers itself).
    """
    if version == "2.0":
        from taxii2client.v20 import Collection, as_pages
    else:
        from taxii2client.v21 import Collection, as_pages
    last: dict[str, str | None] = {"added": None}

    def remember(resp: Any, *_args: Any, **_kwargs: Any) -> Any:
        last["added"] = resp.headers.get("X-TAXII-Date-Added-Last") or last["added"]
        return resp

    try:
        coll = Collection(url, user=user, password=password)
        coll._conn.session.hooks["response"].append(remember)
        kwargs = {"added_after": added_after} if added_after else {}
        for envelope in as_pages(coll.get_objects, per_request=per_request, **kwargs):
            yield TaxiiPage(list(envelope.get("objects", [])), last["added"])
    except Exception as exc:  # taxii2-client raises requests' errors and its own alike
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
