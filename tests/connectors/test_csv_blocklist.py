"""CSV blocklists: header by name, abuse.ch presets, quoting, broken rows, changing columns."""

from __future__ import annotations

import pytest

from connectors import ColumnMap, FeedSettings, Normalised, Rejected, collect, get_connector
from connectors.csv_blocklist import CsvBlocklistConnector, UrlhausCsvConnector
from tests.connectors.conftest import assert_stix21, fixture_bytes, make_settings


def test_urlhaus_fixture_reads_good_rows_and_names_each_broken_one(settings: FeedSettings) -> None:
    raw = fixture_bytes("urlhaus_csv_recent.csv")
    objects, summary = collect(get_connector("urlhaus-csv", settings).normalise(raw))
    by_id = {o["external_references"][0]["external_id"]: o for o in objects}
    assert set(by_id) == {"2960003", "2960004", "2960005", "2960006", "2960007", "2960011", "2960013"}
    assert by_id["2960004"]["pattern"] == "[url:value = 'https://b\u00fccher.example/download/invoice.exe']"
    assert (
        by_id["2960006"]["pattern"]
        == "[url:value = 'http://evil.example/payload.php?id=\\'1\\'&x=\\\\\\\\share']"
    )
    assert len(by_id["2960007"]["pattern"]) > 8000
    assert by_id["2960003"]["labels"] == ["malware_download", "32-bit", "elf", "mips", "Mozi"]
    assert by_id["2960003"]["external_references"][0]["url"] == "https://urlhaus.abuse.ch/url/2960003/"
    assert by_id["2960003"]["created"] == "2024-03-04T09:58:08.000Z"
    assert by_id["2960004"]["modified"].startswith("2024-03-04T10:00:00.")
    assert summary.skipped == 1  # the repeated 2960003 row
    assert summary.rejected == 4
    reasons = "\n".join(summary.reasons)
    for line in ("line 16", "line 17", "line 18", "line 20"):
        assert line in reasons
    assert_stix21(objects)


def test_feodo_preset_reads_ip_and_port_into_a_network_traffic_pattern(settings: FeedSettings) -> None:
    raw = fixture_bytes("feodo_ipblocklist.csv")
    objects, summary = collect(get_connector("feodo-csv", settings).normalise(raw))
    patterns = [o["pattern"] for o in objects]
    assert patterns[0] == (
        "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '192.0.2.10'"
        " AND network-traffic:dst_port = 443]"
    )
    assert "network-traffic:dst_ref.type = 'ipv6-addr'" in patterns[2]
    assert objects[0]["labels"] == ["QakBot"]
    assert objects[1]["description"] == "status: offline"
    # 999.1.1.1 is no IP, 99999 no port; the short last row lacks only optional columns
    assert summary.rejected == 2
    assert len(objects) == 4
    assert_stix21(objects)


def test_threatfox_preset_reads_spaced_quoted_rows_and_typed_values(settings: FeedSettings) -> None:
    raw = fixture_bytes("threatfox_recent.csv")
    objects, summary = collect(get_connector("threatfox-csv", settings).normalise(raw))
    by_id = {o["external_references"][0]["external_id"]: o for o in objects}
    assert by_id["1245300"]["pattern"] == "[domain-name:value = 'b\u00fccher.example']"
    assert by_id["1245300"]["confidence"] == 75
    assert by_id["1245300"]["labels"] == ["payload_delivery", "Agent Tesla", "AgentTesla"]
    assert "dst_port = 4444" in by_id["1245301"]["pattern"]
    assert "ipv6-addr" in by_id["1245296"]["pattern"]
    assert by_id["1245298"]["pattern"].endswith(
        "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"
    )
    assert "Unknown malware" not in by_id["1245299"]["labels"]
    assert by_id["1245293"]["pattern"] == "[domain-name:value = 'evil.example']"
    assert summary.rejected == 2  # an md5 declared as sha1_hash, an unsupported ioc_type
    assert "not a sha1" in "\n".join(summary.reasons)
    assert_stix21(objects)


def test_plain_header_row_and_columns_in_any_order_are_read_by_name() -> None:
    columns = ColumnMap(value="indicator", type="kind", first_seen="seen")
    raw = b'kind,seen,indicator\ndomain,2024-01-01,"evil.example"\nip,,192.0.2.1\n'
    objects, summary = collect(CsvBlocklistConnector(make_settings(columns=columns)).normalise(raw))
    assert [o["pattern"] for o in objects] == [
        "[domain-name:value = 'evil.example']",
        "[ipv4-addr:value = '192.0.2.1']",
    ]
    assert summary.rejected == 0


def test_missing_optional_columns_are_fine() -> None:
    raw = b"# url\nhttp://only-url.example/\n"
    objects, summary = collect(UrlhausCsvConnector(make_settings()).normalise(raw))
    assert objects[0]["pattern"] == "[url:value = 'http://only-url.example/']"
    assert summary.rejected == 0


def test_missing_value_column_is_a_clear_error_naming_the_column() -> None:
    raw = b"# id,dateadded,link\n1,2024-01-01,http://x.example/\n"
    results = list(UrlhausCsvConnector(make_settings()).normalise(raw))
    assert len(results) == 1
    assert isinstance(results[0], Rejected)
    assert "value column 'url'" in results[0].reason


def test_generic_csv_without_a_column_mapping_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="column mapping"):
        CsvBlocklistConnector(make_settings())


def test_unbalanced_quote_costs_only_its_own_line(settings: FeedSettings) -> None:
    raw = b'# url,threat\n"http://a.example/,x\nhttp://b.example/,y\n'
    results = list(UrlhausCsvConnector(settings).normalise(raw))
    assert isinstance(results[0], Rejected)
    assert isinstance(results[1], Normalised)


def test_renormalising_the_same_csv_gives_identical_output(settings: FeedSettings) -> None:
    raw = fixture_bytes("threatfox_recent.csv")
    connector = get_connector("threatfox-csv", settings)
    assert list(connector.normalise(raw)) == list(connector.normalise(raw))
