"""The feeds file: validation that names file, path and problem; idempotent loading; no secret stored."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from hub.errors import ConfigError
from hub.sync.feeds import apply_feeds, read_feeds
from hub.sync.models import Feed, FeedRun
from hub.sync.scheduler import backoff_s
from hub.sync.worker import run_named
from tests.conftest import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "feeds.example.yaml"
SECRET = "s3cret-value-that-must-never-be-stored"


def pull(name: str = "blocklist", **extra):
    return {
        "name": name,
        "format": "text",
        "url": "https://feeds.example.org/list.txt",
        "group": "africa",
        "collection": "indicators",
        "publish_as": "cert-a",
        **extra,
    }


def write(tmp_path: Path, feeds: list[dict], name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"feeds": feeds}))
    return path


def stored(sm) -> dict[str, Feed]:
    with sm() as s:
        return {f.name: f for f in s.scalars(select(Feed))}


def test_example_file_is_valid_and_loads_idempotently(cli, sm):
    from hub.cli import DEMO_CONFIG
    from hub.trust.service import apply_config, read_config

    with sm() as s, s.begin():  # the example's feeds name the demo trust groups and organisations
        apply_config(s, read_config(DEMO_CONFIG))
    r = cli("sync", "load", str(EXAMPLE))
    assert r.exit_code == 0, r.output
    names = {f.name for f in read_feeds(EXAMPLE).feeds}
    assert set(stored(sm)) == names
    assert "created:" in r.output
    r = cli("sync", "load", str(EXAMPLE))
    assert r.exit_code == 0, r.output
    assert "unchanged:" in r.output and "created" not in r.output and "updated" not in r.output
    assert set(stored(sm)) == names


def test_reload_keeps_cursor_and_run_state_unless_the_source_moves(cli, sm, tmp_path):
    path = write(
        tmp_path,
        [pull(format="taxii", peer_community="south", url="https://up.example/taxii2/a/collections/1/")],
    )
    assert cli("sync", "load", str(path)).exit_code == 0
    with sm() as s, s.begin():
        f = s.scalar(select(Feed))
        f.cursor, f.failures, f.last_error, f.next_run_at_us = "2024-01-01T00:00:00.000000Z", 2, "boom", 42
    # a new interval is a definition change: the run state stays
    path = write(
        tmp_path,
        [
            pull(
                format="taxii",
                peer_community="south",
                url="https://up.example/taxii2/a/collections/1/",
                interval="15m",
            )
        ],
    )
    r = cli("sync", "load", str(path))
    assert "updated: blocklist" in r.output
    f = stored(sm)["blocklist"]
    assert (f.interval_s, f.cursor, f.failures, f.last_error, f.next_run_at_us) == (
        900,
        "2024-01-01T00:00:00.000000Z",
        2,
        "boom",
        42,
    )
    # another upstream: the old cursor would skip its objects, so it goes
    path = write(
        tmp_path,
        [pull(format="taxii", peer_community="south", url="https://other.example/taxii2/a/collections/2/")],
    )
    cli("sync", "load", str(path))
    assert stored(sm)["blocklist"].cursor is None


def test_feeds_missing_from_the_file_are_left_alone_and_reported(cli, sm, tmp_path):
    cli("sync", "load", str(write(tmp_path, [pull("one"), pull("two")])))
    r = cli("sync", "load", str(write(tmp_path, [pull("one")])))
    assert "not in the file" in r.output and "two" in r.output
    assert set(stored(sm)) == {"one", "two"}


@pytest.mark.parametrize(
    ("feed", "path", "problem"),
    [
        (pull(colour="blue"), "feeds.0 (blocklist).colour", "Extra inputs are not permitted"),
        (pull(format="rss"), "feeds.0 (blocklist).format", "unknown format 'rss'"),
        (pull(tlp="purple"), "feeds.0 (blocklist).tlp", "unknown TLP level 'purple'"),
        (pull(interval="soon"), "feeds.0 (blocklist).interval", "not an interval"),
        (pull(password="hunter2"), "feeds.0 (blocklist)", "`password` does not belong in this file"),
        (pull(api_key="hunter2"), "feeds.0 (blocklist)", "name that variable with `password_env`"),
        (pull(password_env="FEED_X"), "feeds.0 (blocklist)", "needs a `user`"),
        (pull(publish_as=None), "feeds.0 (blocklist)", "needs `publish_as`"),
        (pull(name="Bad Name"), "feeds.0 (Bad Name).name", "is not a feed name"),
        (pull(connector={"columns": {"nope": "x"}}), "feeds.0 (blocklist).connector.columns", "column"),
        (
            {**pull(direction="push", format="csv"), "publish_as": None},
            "feeds.0 (blocklist)",
            "its format is `taxii`",
        ),
        (
            pull(direction="push", format="taxii"),
            "feeds.0 (blocklist)",
            "publish_as: only pull feeds use these",
        ),
        (
            pull(url="http://alice:S3cretPass@feeds.example.org/list.txt"),
            "feeds.0 (blocklist).url",
            "the URL carries a secret (user name or password in the URL)",
        ),
        (
            pull(url="https://feeds.example.org/list.txt?apikey=abc"),
            "feeds.0 (blocklist).url",
            "query parameter 'apikey'",
        ),
        (pull(format="taxii"), "feeds.0 (blocklist)", "a TAXII pull feed declares what the upstream is"),
        (
            pull(format="taxii", public=True, peer_community="south"),
            "feeds.0 (blocklist)",
            "contradict each other",
        ),
        (pull(format="taxii", public=True, tlp="green"), "feeds.0 (blocklist)", "upstream_default_tlp"),
        (pull(peer_community="south"), "feeds.0 (blocklist)", "only TAXII feeds"),
        (pull(schedule="every tuesday"), "feeds.0 (blocklist).schedule", "not a cron schedule"),
        (pull(auth_header="X-Key"), "feeds.0 (blocklist)", "`auth_header` needs `password_env`"),
        (pull(timeout=0), "feeds.0 (blocklist).timeout", "greater than 0"),
    ],
)
def test_config_errors_name_file_path_and_problem(tmp_path, feed, path, problem):
    feed = {k: v for k, v in feed.items() if v is not None}
    file = write(tmp_path, [feed])
    with pytest.raises(ConfigError) as info:
        read_feeds(file)
    err = info.value
    assert err.file == str(file)
    assert err.path == path
    assert problem in err.problem


def test_duplicate_names_and_bad_yaml_and_missing_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"feeds.yaml: \(top level\): feed name 'x' is declared twice"):
        read_feeds(write(tmp_path, [pull("x"), pull("x")]))
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: -: not valid YAML"):
        read_feeds(bad)
    with pytest.raises(ConfigError, match=r"absent\.yaml: -: no such file"):
        read_feeds(tmp_path / "absent.yaml")


def test_cli_load_of_an_invalid_file_fails_with_file_path_problem(cli, sm, tmp_path):
    file = write(tmp_path, [pull(tlp="purple")])
    r = cli("sync", "load", str(file))
    assert r.exit_code == 2
    assert f"{file}: feeds.0 (blocklist).tlp: unknown TLP level 'purple'" in " ".join(r.output.split())
    assert stored(sm) == {}


def test_backoff_doubles_from_a_minute_and_is_capped_by_the_interval():
    assert [backoff_s(3600, n) for n in (1, 2, 3, 4, 6, 7, 100)] == [60, 120, 240, 480, 1920, 3600, 3600]
    assert backoff_s(30, 1) == 30


def test_no_secret_is_stored_anywhere_in_the_feeds_tables(sm, world, tmp_path, monkeypatch):
    monkeypatch.setenv("FEED_UP_PASSWORD", SECRET)
    url = f"http://127.0.0.1:{free_port()}/taxii2/africa/collections/x/"
    feed = pull(
        "upstream",
        format="taxii",
        peer_community="south",
        url=url,
        user="cert-a",
        password_env="FEED_UP_PASSWORD",
    )
    with sm() as s, s.begin():
        apply_feeds(s, read_feeds(write(tmp_path, [feed])), now_us=0)
    done = run_named(sm, "upstream", worker_id="w1")  # uses the secret, fails: the error is recorded
    assert not done.outcome.ok
    with sm() as s:
        rows = [*s.execute(select(Feed.__table__)), *s.execute(select(FeedRun.__table__))]
    assert len(rows) == 2
    cells = [str(v) for row in rows for v in row]
    assert "FEED_UP_PASSWORD" in cells
    assert not any(SECRET in c for c in cells)
