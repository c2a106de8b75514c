"""docker-compose.yml, checked without a Docker engine: its structure, every `hub` command it runs parses
against the real command line, and its one-shot steps (migrate, bootstrap, feeds) run for real, in
order, on this suite's databases, with the mounted files taken from the checkout."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from hub.cli import app
from hub.settings import Settings
from tests.conftest import drop_database, fresh_database

pytestmark = pytest.mark.slow  # the compose steps run as processes

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def hub_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services().items() if svc.get("command", [None])[0] == "hub"}


def parse(args: list[str]) -> Any:
    """Resolve `hub ARGS` to its command and parse the arguments (types, required ones), running nothing."""
    group = typer.main.get_command(app)
    ctx = group.make_context("hub", [], resilient_parsing=True)  # the group alone: no "no args" help
    command, rest = group, list(args)
    while hasattr(command, "get_command") and rest:
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"`hub {' '.join(args)}`: no command {rest[0]!r}"
        command, rest = sub, rest[1:]
    assert not hasattr(command, "get_command"), f"`hub {' '.join(args)}` names a group, not a command"
    return command.make_context(command.name or "", rest, parent=ctx)


def test_the_stack_has_postgres_migrate_bootstrap_two_replicas_and_a_worker():
    svc = services()
    assert svc["db"]["image"].startswith("postgres:")
    cmds = {name: s["command"] for name, s in hub_services().items()}
    assert cmds["migrate"] == ["hub", "db", "upgrade"]
    assert cmds["bootstrap"][:3] == ["hub", "trust", "load"] and "--keys-file" in cmds["bootstrap"]
    # every `up` runs it: the non-destructive path, which never reverts what coordinators changed
    assert "--update" not in cmds["bootstrap"]
    replicas = [n for n, c in cmds.items() if c[:2] == ["hub", "serve"]]
    assert len(replicas) >= 2
    assert [n for n, c in cmds.items() if c[:3] == ["hub", "sync", "worker"]]
    # order: db healthy -> migrate -> bootstrap -> replicas (and feeds -> worker)
    assert svc["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert svc["bootstrap"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in replicas:
        assert svc[name]["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"
        assert all(p.startswith("127.0.0.1:") for p in svc[name].get("ports", []))
    assert svc["worker"]["depends_on"]["feeds"]["condition"] == "service_completed_successfully"
    # one-shot steps and the worker have no HTTP port to health-check
    for name in ("migrate", "bootstrap", "feeds", "worker"):
        assert svc[name]["healthcheck"] == {"disable": True}


def test_every_replica_signs_page_tokens_alike_and_uses_the_same_database():
    envs = [s["environment"] for s in hub_services().values()]
    assert all(e == envs[0] for e in envs)
    assert "HUB_SECRET_KEY:?" in envs[0]["HUB_SECRET_KEY"]  # compose refuses to start without one
    assert envs[0]["HUB_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_every_hub_setting_named_is_a_real_setting():
    fields = {f"HUB_{name.upper()}" for name in Settings.model_fields}
    for name, svc in hub_services().items():
        unknown = {k for k in svc["environment"] if k.startswith("HUB_")} - fields
        assert not unknown, f"{name} sets unknown settings {unknown}"


@pytest.mark.parametrize("name", sorted(hub_services()))
def test_every_command_exists_and_parses_its_arguments(name):
    command = hub_services()[name]["command"]
    ctx = parse(command[1:])
    assert ctx.params is not None
    help_ = CliRunner().invoke(app, [*command[1:], "--help"])
    assert help_.exit_code == 0, help_.output


def test_parse_catches_a_mistyped_command_or_option():
    with pytest.raises(AssertionError):
        parse(["sync", "wroker"])
    with pytest.raises(Exception, match="No such option"):
        parse(["sync", "worker", "--poll-second", "3"])
    with pytest.raises(Exception, match="valid"):
        parse(["sync", "worker", "--poll-seconds", "soon"])
    with pytest.raises(Exception, match="Missing"):
        parse(["trust", "load"])


def test_every_mounted_file_exists_in_the_checkout():
    for name, svc in services().items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), f"{name} mounts {source}, which does not exist"


def _mounted(svc: dict[str, Any]) -> dict[str, Path]:
    """Container path -> checkout file, for the bind mounts of a service."""
    out = {}
    for volume in svc.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            out[target] = ROOT / source
    return out


def test_the_one_shot_steps_run_in_order_and_write_keys_readable_only_by_their_owner(
    db_kind, tmp_path, monkeypatch
):
    url = fresh_database(db_kind, "hub_compose", tmp_path)
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    monkeypatch.setenv("HUB_SECRET_KEY", "compose-test")
    runner = CliRunner()
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    try:
        for step in ("migrate", "bootstrap", "feeds"):
            svc = services()[step]
            args = []
            for arg in svc["command"][1:]:
                arg = str(_mounted(svc).get(arg, arg))
                args.append(arg.replace("/data/keys", str(keys_dir)))
            r = runner.invoke(app, args)
            assert r.exit_code == 0, f"{step}: {r.output}"
        keys = keys_dir / "api-keys.txt"
        assert stat.S_IMODE(keys.stat().st_mode) == 0o600
        lines = keys.read_text().splitlines()
        assert lines and all(line.split()[1].startswith("hub_") for line in lines)
        assert "hub_" not in r.output  # keys go to the file, never to the container's log
        again = runner.invoke(app, [a.replace("/data/keys", str(keys_dir)) for a in args])
        assert again.exit_code == 0
        # a restarted bootstrap creates no keys and leaves the file as it was
        bootstrap = services()["bootstrap"]
        rerun = [
            str(_mounted(bootstrap).get(a, a)).replace("/data/keys", str(keys_dir))
            for a in bootstrap["command"][1:]
        ]
        assert runner.invoke(app, rerun).exit_code == 0
        assert keys.read_text().splitlines() == lines
    finally:
        drop_database(db_kind, "hub_compose")
