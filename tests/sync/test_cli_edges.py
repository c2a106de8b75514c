"""The rough edges of `hub import`, `hub sync load`, `hub export` and `hub key revoke` found by a newcomer."""

from __future__ import annotations

import orjson
import yaml
from sqlalchemy import select

from hub.store.tables import ObjectVersion
from tests.sync.test_feeds import pull, write


def imp(cli, source, *extra):
    return cli(
        "import", str(source), "--group", "africa", "--collection", "indicators", "--as", "cert-a", *extra
    )


def test_import_exits_1_when_every_record_is_rejected(cli, tmp_path):
    feed = tmp_path / "junk.txt"
    feed.write_bytes(b"not a value at all !!\n?? ??\n")
    r = imp(cli, feed, "--format", "text")
    assert r.exit_code == 1
    assert "nothing was imported" in r.output


def test_import_exits_1_when_every_object_is_refused(cli, tmp_path):
    feed = tmp_path / "list.txt"
    feed.write_bytes(b"198.51.100.9\n")
    r = imp(cli, feed, "--format", "text", "--tlp", "red")
    assert r.exit_code == 1
    assert "refused by validation or policy: 1" in r.output


def test_import_with_something_stored_exits_0(cli, tmp_path):
    feed = tmp_path / "list.txt"
    feed.write_bytes(b"198.51.100.9\nnot a value at all !!\n")
    r = imp(cli, feed, "--format", "text")
    assert r.exit_code == 0, r.output
    assert imp(cli, feed, "--format", "text").exit_code == 0  # unchanged on a re-import is not a failure


def test_without_feed_name_the_local_path_never_reaches_shared_objects(cli, sm, tmp_path):
    folder = tmp_path / "home" / "analyst" / "private-stuff"
    folder.mkdir(parents=True)
    feed = folder / "blocklist.csv"
    feed.write_text("url,link\nhttp://bad.example/x,https://reports.example.org/1\n")
    r = imp(cli, feed, "--format", "csv", "--columns", "value=url,reference=link")
    assert r.exit_code == 0, r.output
    with sm() as s:
        bodies = [orjson.loads(b) for b in s.scalars(select(ObjectVersion.body))]
    names = {ref.get("source_name") for o in bodies for ref in o.get("external_references", [])}
    assert "blocklist.csv" in names
    assert not any("private-stuff" in orjson.dumps(o).decode() for o in bodies)


def test_columns_errors_are_plain_words(cli, tmp_path):
    feed = tmp_path / "x.csv"
    feed.write_text("url,kind\nhttp://bad.example/,url\n")
    r = imp(cli, feed, "--format", "csv", "--columns", "valu=url")
    assert r.exit_code == 2
    assert "unknown field 'valu'" in r.output and "value, type" in r.output
    assert "__init__" not in r.output and "ColumnMap" not in r.output
    r = imp(cli, feed, "--format", "csv", "--columns", "type=kind")
    assert r.exit_code == 2 and "--columns needs value=<header>" in r.output


def test_key_revoke_never_echoes_a_pasted_secret(cli, world):
    key = world.keys["cert-b"]
    secret = key.split("_", 2)[2]
    r = cli("key", "revoke", key)
    assert r.exit_code == 0, r.output
    assert secret not in r.output and key.split("_")[1] in r.output
    again = cli("key", "revoke", key.replace(key.split("_")[1], "0000000000000000"))
    assert again.exit_code == 2 and secret not in again.output


def test_sync_load_reports_every_unknown_reference_at_once(cli, tmp_path):
    feeds = [
        pull("one", group="nowhere"),
        pull("two", collection="missing"),
        pull("three", publish_as="nobody"),
        pull("four", group="asia", publish_as="cert-b"),
        pull("fine"),
    ]
    r = cli("sync", "load", str(write(tmp_path, feeds)))
    assert r.exit_code == 2
    for expected in (
        "feeds.0 (one).group: no trust group 'nowhere'",
        "feeds.1 (two).collection: no collection 'missing' in group 'africa'",
        "feeds.2 (three).publish_as: no organisation 'nobody'",
        "feeds.3 (four).publish_as: 'cert-b' is not a member of group 'asia'",
    ):
        assert expected in r.output
    assert "fine" not in r.output
    assert "No feeds" in cli("sync", "list").output  # nothing was loaded


def test_sync_load_reports_every_schema_error_at_once(cli, tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump({"feeds": [pull("a", tlp="purple"), pull("b", interval="soon")]}))
    r = cli("sync", "load", str(path))
    assert r.exit_code == 2
    assert "feeds.0 (a).tlp: unknown TLP level 'purple'" in r.output
    assert "feeds.1 (b).interval:" in r.output


def test_output_is_not_wrapped_at_80_columns_when_not_a_terminal(cli, tmp_path):
    url = "https://feeds.example.org/" + "a-long-path-segment/" * 8 + "list.txt"
    assert cli("sync", "load", str(write(tmp_path, [pull("long", url=url)]))).exit_code == 0
    r = cli("sync", "list")
    assert any(url in line and len(line) > 80 for line in r.output.splitlines())


def test_export_names_its_destination_once(cli, tmp_path):
    r = cli("export", "--group", "africa", "--collection", "indicators", "-o", str(tmp_path / "x.json"))
    assert r.exit_code == 0, r.output
    assert "for export to" in r.output and "export export" not in r.output
    r = cli(
        "export", "--group", "africa", "--collection", "indicators", "--peer-community", "south",
        "-o", str(tmp_path / "y.json"),
    )  # fmt: skip
    assert "for peer hub of south to" in r.output and "peer hub peer hub" not in r.output
