"""`hub import`: feeds into a collection through the ingest path, as a CIRT operator runs it."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select

from hub.store.tables import ObjectVersion
from tests.conftest import free_port
from tests.factories import indicator

BLOCKLIST = b"""# bad hosts, one a line
203.0.113.7
evil.example
hxxp://phish[.]example/login
not a value at all !!
2001:db8::1
203.0.113.7
"""


def count(sm, collection_id):
    with sm() as s:
        return s.scalar(
            select(func.count())
            .select_from(ObjectVersion)
            .where(ObjectVersion.collection_id == collection_id)
        )


def test_import_blocklist_summary_and_reimport_stores_nothing_new(cli, sm, world, tmp_path):
    feed = tmp_path / "list.txt"
    feed.write_bytes(BLOCKLIST)
    args = [
        "import",
        str(feed),
        "--format",
        "text",
        "--group",
        "africa",
        "--collection",
        "indicators",
        "--as",
        "cert-b",
        "--tlp",
        "green",
    ]
    r = cli(*args)
    assert r.exit_code == 0, r.output
    assert "stored new: 4" in r.output
    assert "rejected by the connector: 1" in r.output and "not a value at all" in r.output
    stored = count(sm, world.collections["africa/indicators"])
    assert stored >= 4
    r = cli(*args)
    assert "stored new: 0" in r.output and "unchanged (already stored): 4" in r.output
    assert count(sm, world.collections["africa/indicators"]) == stored


def test_same_indicator_from_two_cirts_stays_two_objects(cli, sm, world, tmp_path):
    feed = tmp_path / "list.txt"
    feed.write_bytes(b"198.51.100.9\n")
    for org in ("cert-a", "cert-b"):
        r = cli(
            "import",
            str(feed),
            "--format",
            "text",
            "--group",
            "africa",
            "--collection",
            "indicators",
            "--as",
            org,
        )
        assert "stored new: 1" in r.output, r.output
    assert count(sm, world.collections["africa/indicators"]) == 2


def test_dry_run_prints_objects_and_stores_nothing(cli, sm, world, tmp_path):
    feed = tmp_path / "list.txt"
    feed.write_bytes(b"198.51.100.9\n")
    r = cli(
        "import",
        str(feed),
        "--format",
        "text",
        "--group",
        "africa",
        "--collection",
        "indicators",
        "--as",
        "cert-a",
        "--dry-run",
    )
    assert r.exit_code == 0, r.output
    assert "nothing was stored" in r.output and "would store new: 1" in r.output
    assert "[ipv4-addr:value = '198.51.100.9']" in r.output
    assert count(sm, world.collections["africa/indicators"]) == 0


def test_import_refused_by_policy_is_counted_with_reason(cli, world, tmp_path):
    feed = tmp_path / "list.txt"
    feed.write_bytes(b"198.51.100.9\n")
    r = cli(
        "import",
        str(feed),
        "--format",
        "text",
        "--group",
        "africa",
        "--collection",
        "indicators",
        "--as",
        "cert-a",
        "--tlp",
        "red",
    )
    assert "refused by validation or policy: 1" in r.output
    assert "TLP:RED is accepted only in named-recipient collections" in r.output


def test_import_into_a_group_the_org_cannot_write_fails_clearly(cli, tmp_path):
    feed = tmp_path / "list.txt"
    feed.write_bytes(b"198.51.100.9\n")
    r = cli(
        "import",
        str(feed),
        "--format",
        "text",
        "--group",
        "asia",
        "--collection",
        "indicators",
        "--as",
        "cert-b",
    )
    assert r.exit_code == 2
    assert "not a member" in r.output


def test_unknown_format_and_missing_file_fail_clearly(cli, tmp_path):
    r = cli(
        "import", "x", "--format", "nope", "--group", "africa", "--collection", "indicators", "--as", "cert-a"
    )
    assert r.exit_code == 2 and "unknown format" in r.output
    r = cli(
        "import",
        str(tmp_path / "absent.csv"),
        "--format",
        "text",
        "--group",
        "africa",
        "--collection",
        "indicators",
        "--as",
        "cert-a",
    )
    assert r.exit_code == 2 and "absent.csv" in r.output


def test_import_from_a_url(cli, world, web):
    folder, base = web
    (folder / "feed.csv").write_bytes(
        b"# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
        b'"1","2024-01-02 03:04:05","http://bad.example/x.exe","online","2024-01-02 03:04:05",'
        b'"malware_download","exe","https://urlhaus.abuse.ch/url/1/","someone"\n'
    )
    r = cli(
        "import",
        f"{base}/feed.csv",
        "--format",
        "urlhaus-csv",
        "--group",
        "africa",
        "--collection",
        "indicators",
        "--as",
        "cert-a",
        "--tlp",
        "clear",
    )
    assert r.exit_code == 0, r.output
    assert "stored new: 1" in r.output


def test_import_from_an_unreachable_url_fails_clearly(cli):
    r = cli(
        "import",
        f"http://127.0.0.1:{free_port()}/feed.txt",
        "--format",
        "text",
        "--group",
        "africa",
        "--collection",
        "indicators",
        "--as",
        "cert-a",
    )
    assert r.exit_code == 2 and "ConnectError" in r.output


def test_import_a_misp_feed_over_http(cli, world, web):
    folder, base = web
    event = {
        "Event": {
            "uuid": "5f1f1c3e-0000-4000-8000-000000000001",
            "info": "phishing wave",
            "date": "2024-01-02",
            "timestamp": "1704164645",
            "distribution": "3",
            "Tag": [{"name": "tlp:green"}],
            "Attribute": [
                {
                    "uuid": "5f1f1c3e-0000-4000-8000-0000000000a1",
                    "type": "domain",
                    "category": "Network activity",
                    "value": "phish.example",
                    "to_ids": True,
                    "timestamp": "1704164645",
                }
            ],
        }
    }
    (folder / "manifest.json").write_bytes(orjson.dumps({event["Event"]["uuid"]: {"info": "phishing wave"}}))
    (folder / f"{event['Event']['uuid']}.json").write_bytes(orjson.dumps(event))
    r = cli(
        "import",
        base,
        "--format",
        "misp-feed",
        "--group",
        "africa",
        "--collection",
        "indicators",
        "--as",
        "cert-a",
    )
    assert r.exit_code == 0, r.output
    assert "refused by validation or policy: 0" in r.output
    assert "stored new: 0" not in r.output


@pytest.mark.interop
def test_incremental_pull_from_an_upstream_taxii_collection(cli, sm, world, live):
    import httpx

    upstream = f"{live.base}/taxii2/africa/collections/{live.collections['africa/indicators']}/"
    objs = [indicator(9000 + i, tlp="clear") for i in range(5)]
    r = httpx.post(
        upstream + "objects/", content=orjson.dumps({"objects": objs}), headers=live.post_headers("cert-a")
    )
    assert r.status_code == 202
    args = [
        "import",
        upstream,
        "--format",
        "taxii",
        "--group",
        "africa",
        "--collection",
        "indicators",
        "--as",
        "cert-b",
        "--user",
        "cert-a",
        "--password",
        live.keys["cert-a"],
    ]
    r = cli(*args)
    assert r.exit_code == 2 and "--peer-community NAME" in r.output  # the relationship is declared
    args += ["--peer-community", "south"]
    r = cli(*args)
    assert r.exit_code == 0, r.output
    assert "stored new: 5" in r.output
    cursor = r.output.split("--added-after ")[1].split()[0]
    more = [indicator(9100, tlp="clear")]
    httpx.post(
        upstream + "objects/", content=orjson.dumps({"objects": more}), headers=live.post_headers("cert-a")
    )
    r = cli(*args, "--added-after", cursor)
    assert "records read: 1" in r.output and "stored new: 1" in r.output


def test_a_third_party_bundle_keeps_its_author_and_records_the_importer_as_publisher(cli, sm, world):
    from pathlib import Path

    from hub.trust.models import Organisation

    bundle = Path(__file__).parents[1] / "connectors" / "fixtures" / "stix20_bundle.json"
    vendor = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    r = cli(
        "import", str(bundle), "--format", "stix", "--group", "africa", "--collection", "indicators",
        "--as", "cert-a",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "refused by validation or policy: 0" in r.output, r.output
    with sm() as s:
        cert_a = s.scalar(select(Organisation.id).where(Organisation.slug == "cert-a"))
        rows = s.execute(
            select(ObjectVersion.stix_id, ObjectVersion.producer_id, ObjectVersion.body).where(
                ObjectVersion.collection_id == world.collections["africa/indicators"]
            )
        ).all()
    authored = [sid for sid, _p, body in rows if orjson.loads(body).get("created_by_ref") == vendor]
    assert authored  # the vendor stays the author of its objects
    assert {p for _s, p, _b in rows} == {cert_a}  # cert-a published every one of them
    r = cli("policy", "explain", "--object", authored[0], "--reader", "cert-c")
    assert "Published in the hub by cert-a" in r.output, r.output
    assert f"authored by {vendor}, an identity outside the hub" in r.output, r.output


@pytest.mark.interop
def test_import_from_another_hub_refuses_amber_into_a_group_and_names_it(cli, world, live):
    import httpx

    upstream = f"{live.base}/taxii2/africa/collections/{live.collections['africa/indicators']}/"
    amber, clear = indicator(9200, tlp="amber"), indicator(9201, tlp="clear")
    r = httpx.post(
        upstream + "objects/",
        content=orjson.dumps({"objects": [amber, clear]}),
        headers=live.post_headers("cert-a"),
    )
    assert r.status_code == 202
    base = ["import", upstream, "--format", "taxii", "--as", "cert-a", "--user", "cert-a"]
    base += ["--password", live.keys["cert-a"], "--public", "--group", "africa"]
    r = cli(*base, "--collection", "indicators")
    assert r.exit_code == 0, r.output
    assert (
        f"{amber['id']}: refused: TLP:AMBER from another hub comes only into a collection restricted"
        in r.output
    )
    # the named-recipient collection a-to-b has another recipient (cert-b): AMBER stays out there too
    r = cli(*base, "--collection", "a-to-b")
    assert r.exit_code == 0 and f"{amber['id']}: refused" in r.output
