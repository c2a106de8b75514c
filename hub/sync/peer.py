"""A peer's TAXII 2.1 collection as a push sees it: its size limit, add objects, delete an object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from hub.net import OutboundGuard
from hub.sync.fetch import PeerError, http_client

TAXII = "application/taxii+json;version=2.1"


def api_root_of(collection_url: str) -> str:
    """The API root URL of a TAXII 2.1 collection URL (`.../{root}/collections/{id}/`)."""
    base = collection_url.rstrip("/")
    head, sep, _cid = base.rpartition("/collections/")
    if not sep:
        raise PeerError(f"{collection_url}: not a TAXII collection URL (…/collections/<id>/)")
    return head + "/"


def _short(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    if isinstance(doc, dict) and isinstance(doc.get("title"), str):
        detail = doc.get("description")
        more = f" ({detail})" if isinstance(detail, str) else ""
        return f"HTTP {resp.status_code}: {doc['title']}{more}"
    return f"HTTP {resp.status_code}"


@dataclass
class PeerCollection:
    """One collection at a peer TAXII 2.1 server, spoken to with one httpx client (timeouts, auth)."""

    url: str
    client: httpx.Client

    @classmethod
    def open(
        cls,
        url: str,
        *,
        user: str | None,
        password: str | None,
        timeout: float | None = None,
        guard: OutboundGuard | None = None,
    ) -> PeerCollection:
        """A client on the collection at `url`, with HTTP Basic credentials when given; with a `guard`
        (a coordinator's feed), it connects only where the guard allows."""
        auth = httpx.BasicAuth(user or "", password) if password is not None else None
        headers = {"Accept": TAXII}
        client = http_client(timeout=timeout, auth=auth, headers=headers, guard=guard)
        return cls(url if url.endswith("/") else url + "/", client)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise PeerError(f"{self.url}: {type(exc).__name__}: {exc}") from None

    def max_content_length(self) -> int | None:
        """The peer API root's `max_content_length` (TAXII 2.1 section 4.2), None when it gives none."""
        resp = self._request("GET", api_root_of(self.url))
        if resp.status_code != 200:
            raise PeerError(f"{self.url}: API root information: {_short(resp)}")
        try:
            value = resp.json().get("max_content_length")
        except (ValueError, AttributeError):
            raise PeerError(f"{self.url}: API root information is not a JSON object") from None
        return value if isinstance(value, int) and value > 0 else None

    def can_write(self) -> bool:
        """The collection resource's `can_write` for this account (TAXII 2.1 section 5.2)."""
        resp = self._request("GET", self.url)
        if resp.status_code != 200:
            raise PeerError(f"{self.url}: collection information: {_short(resp)}")
        try:
            return resp.json().get("can_write") is True
        except (ValueError, AttributeError):
            raise PeerError(f"{self.url}: collection information is not a JSON object") from None

    def add_objects(self, envelope: bytes) -> dict[str, Any]:
        """TAXII 2.1 section 5.4: post one envelope; the status resource the peer answers."""
        resp = self._request("POST", self.url + "objects/", content=envelope, headers={"Content-Type": TAXII})
        if resp.status_code not in (200, 201, 202):
            raise PeerError(f"{self.url}: the peer answered the envelope with {_short(resp)}")
        try:
            status = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise PeerError(f"{self.url}: the peer's status is not JSON") from None
        if not isinstance(status, dict):
            raise PeerError(f"{self.url}: the peer's status is not a status resource")
        return status

    def delete_object(self, stix_id: str) -> bool:
        """TAXII 2.1 section 5.7: delete every version of an object; False when the peer has none."""
        resp = self._request("DELETE", self.url + "objects/" + quote(stix_id, safe="") + "/")
        if resp.status_code == 404:
            return False
        if resp.status_code not in (200, 202, 204):
            raise PeerError(f"{self.url}: deleting {stix_id}: {_short(resp)}")
        return True
