"""The `multistore` CLI on SQLite and PostgreSQL: every verb, its JSON, and its one-line errors."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from cli.app import app as command
from devtools.demo import EXAMPLE_STORES
from multistore import cli as core
from multistore.registry import Registry
from multistore.settings import reset_settings

MULTISTORE = Path(sys.executable).parent / "multistore"


@pytest.fixture
def invoke(registry_url: str):  # type: ignore[no-untyped-def]
    """Run the CLI in-process against the registry under test; returns (code, stdout, stderr)."""
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(command, list(args))
        return result.exit_code, result.stdout, result.stderr

    return run


def ok_json(invoke, *args: str):  # type: ignore[no-untyped-def]
    code, out, err = invoke(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def one_line_error(invoke, *args: str) -> str:  # type: ignore[no-untyped-def]
    code, _out, err = invoke(*args)
    assert code == 1, f"exit code {code} for {args}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_add_list_and_filters(invoke) -> None:  # type: ignore[no-untyped-def]
    added = ok_json(
        invoke,
        "add",
        "--id",
        "sunset-ford",
        "--name",
        "Sunset Ford",
        "--priority",
        "HIGH",
        "--timezone",
        "America/Los_Angeles",
        "--window",
        "22:00-06:00",
        "--region",
        "west",
        "--tag",
        "ford",
        "--tag",
        "franchise",
    )
    assert added["priority"] == "HIGH" and added["window"] == "22:00-06:00"
    assert added["tags"] == ["ford", "franchise"]
    ok_json(invoke, "add", "--id", "corner-shop", "--priority", "low", "--jobs", "homenet_feed")
    ok_json(invoke, "add", "--id", "sleepy", "--disabled")

    rows = ok_json(invoke, "list")
    assert [r["id"] for r in rows] == ["corner-shop", "sleepy", "sunset-ford"]
    assert rows[0]["jobs"] == ["homenet_feed"] and rows[1]["state"] == "disabled"
    assert [r["id"] for r in ok_json(invoke, "list", "--priority", "Low")] == ["corner-shop"]
    # --active: enabled, not quarantined, window open now (both always-open stores qualify,
    # the disabled one does not).
    active = [r["id"] for r in ok_json(invoke, "list", "--active")]
    assert "corner-shop" in active and "sleepy" not in active
    Registry().record_outcome("corner-shop", False, "boom", threshold=1)
    assert [r["id"] for r in ok_json(invoke, "list", "--quarantined")] == ["corner-shop"]
    assert "corner-shop" not in [r["id"] for r in ok_json(invoke, "list", "--active")]

    code, out, _ = invoke("list")
    assert code == 0 and "Sunset Ford" in out and "America/Los_Angeles" in out


def test_state_verbs(invoke) -> None:  # type: ignore[no-untyped-def]
    ok_json(invoke, "add", "--id", "a")
    assert ok_json(invoke, "disable", "a")["enabled"] is False
    assert ok_json(invoke, "enable", "a")["enabled"] is True
    assert ok_json(invoke, "set-priority", "a", "High")["priority"] == "HIGH"
    row = ok_json(
        invoke, "set-schedule", "a", "--timezone", "America/Chicago", "--window", "21:30-05:30"
    )
    assert (row["timezone"], row["window"]) == ("America/Chicago", "21:30-05:30")
    assert ok_json(invoke, "set-schedule", "a", "--always")["window"] == "always"
    Registry().record_outcome("a", False, "CRM down", threshold=1)
    released = ok_json(invoke, "release", "a")
    assert released["state"] == "enabled" and released["consecutive_failures"] == 0
    assert ok_json(invoke, "remove", "a") == {"removed": "a"}
    assert ok_json(invoke, "list") == []


def test_status_and_history(invoke) -> None:  # type: ignore[no-untyped-def]
    ok_json(invoke, "add", "--id", "a", "--window", "00:00-00:01")
    ok_json(invoke, "add", "--id", "b", "--disabled")
    ok_json(invoke, "add", "--id", "c")
    registry = Registry()
    run_id = registry.start_run("c", "flow-1")
    registry.finish_run(run_id, "failed", error="DNC 503", metrics={"contacts": 5})
    registry.record_outcome("c", False, "DNC 503", threshold=1)

    data = ok_json(invoke, "status")
    counts = data["counts"]
    assert (counts["total"], counts["enabled"], counts["disabled"], counts["quarantined"]) == (
        3,
        2,
        1,
        1,
    )
    assert data["quarantined"] == [
        {
            "id": "c",
            "reason": "1 consecutive failures; last: DNC 503",
            "since": data["stores"][2]["quarantined_at"],
        }
    ]
    last = data["stores"][2]["last_run"]
    assert (last["status"], last["flow_run_id"], last["error"]) == ("failed", "flow-1", "DNC 503")

    [run] = ok_json(invoke, "history", "c")
    assert run["metrics"] == {"contacts": 5} and run["duration_seconds"] >= 0
    assert ok_json(invoke, "history", "a") == []

    code, out, _ = invoke("status")
    assert code == 0
    assert "3 stores: 2 enabled, 1 disabled, 1 quarantined" in out
    assert "DNC 503" in out


def test_due_now_is_the_plan_a_quarantined_open_store_is_not_due(  # type: ignore[no-untyped-def]
    invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "_now", lambda: datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    ok_json(invoke, "add", "--id", "due", "--window", "10:00-14:00", "--timezone", "UTC")
    ok_json(invoke, "add", "--id", "held", "--window", "10:00-14:00", "--timezone", "UTC")
    ok_json(invoke, "add", "--id", "closed", "--window", "20:00-22:00", "--timezone", "UTC")
    ok_json(invoke, "add", "--id", "off", "--disabled")
    Registry().record_outcome("held", False, "boom", threshold=1)

    data = ok_json(invoke, "status")
    held = next(r for r in data["stores"] if r["id"] == "held")
    assert held["window_open"] is True and held["state"] == "quarantined"
    assert data["counts"]["window_open"] == 3  # due, held, off (always open)
    assert data["counts"]["due_now"] == 1
    assert [r["id"] for r in ok_json(invoke, "list", "--active")] == ["due"]
    code, out, _ = invoke("status")
    assert code == 0 and "3 with the window open now, 1 due now" in out


def test_run_dry_run_prints_the_plan(invoke) -> None:  # type: ignore[no-untyped-def]
    ok_json(invoke, "add", "--id", "low", "--priority", "low")
    ok_json(invoke, "add", "--id", "high", "--priority", "high", "--region", "east")
    ok_json(invoke, "add", "--id", "off", "--disabled")
    # Open one minute a day, at 00:00–00:01 UTC: closed unless the test runs at midnight.
    ok_json(invoke, "add", "--id", "shut", "--window", "00:00-00:01", "--timezone", "Asia/Tokyo")

    the_plan = ok_json(invoke, "run", "--dry-run")
    assert [s["id"] for s in the_plan["selected"]][:2] == ["high", "low"]
    skipped = {s["id"]: s for s in the_plan["skipped"]}
    assert skipped["off"]["reason"] == "disabled"
    if "shut" in skipped:
        assert skipped["shut"]["reason"] == "outside window"
        assert skipped["shut"]["next_open"].endswith("+09:00")
        assert "T00:00:00" in skipped["shut"]["next_open"]

    assert [
        s["id"] for s in ok_json(invoke, "run", "--dry-run", "--priority", "HIGH")["selected"]
    ] == ["high"]
    narrowed = ok_json(invoke, "run", "--dry-run", "--stores", "low,off")
    assert [s["id"] for s in narrowed["selected"]] == ["low"]
    assert [s["id"] for s in narrowed["skipped"]] == ["off"]
    assert ok_json(invoke, "run", "--dry-run", "--region", "east")["selected"][0]["id"] == "high"

    ignoring = ok_json(invoke, "run", "--dry-run", "--ignore-windows")
    assert "shut" in [s["id"] for s in ignoring["selected"]]
    assert [s["id"] for s in ignoring["skipped"]] == ["off"]

    code, out, _ = invoke("run", "--dry-run")
    assert code == 0 and "would run, in this order" in out and "disabled" in out
    line = one_line_error(invoke, "run", "--dry-run", "--stores", "low,ghost")
    assert line == "error: unknown store 'ghost'"


def test_run_without_dry_run_delegates_to_the_parent_flow(
    invoke, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # No parent flow attached (the core's app alone, without cli/app.py's composition).
    monkeypatch.setattr(core, "_runs", None)
    code, _out, err = invoke("run")
    assert code == 1 and err.strip() == "error: run: the parent flow is not installed yet"

    calls = []

    def run_stores_cli(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return 3

    monkeypatch.setattr(core, "_runs", types.SimpleNamespace(run_stores_cli=run_stores_cli))
    ok_json(invoke, "add", "--id", "a")
    ok_json(invoke, "add", "--id", "b")
    code, _out, _err = invoke("run", "--stores", "a,b", "--priority", "high")
    assert code == 3
    assert calls == [
        {
            "stores": ["a", "b"],
            "priority": "HIGH",
            "region": None,
            "as_json": False,
            "ignore_windows": False,
        }
    ]
    invoke("run", "--ignore-windows", "--max-concurrent-stores", "2")
    assert calls[-1]["ignore_windows"] is True and calls[-1]["max_concurrent_stores"] == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("add", "--id", "Bad_Id"), "error: store 'Bad_Id': id: 'Bad_Id' is not a store id"),
        (("add", "--id", "a", "--timezone", "Mars/Base"), "timezone: 'Mars/Base' is not an IANA"),
        (("add", "--id", "a", "--timezone", "EST"), "use the IANA name America/New_York"),
        (("set-schedule", "dup", "--timezone", "EST"), "use the IANA name America/New_York"),
        (("add", "--id", "a", "--window", "22-06"), "window: '22' is not a time HH:MM"),
        (("add", "--id", "a", "--priority", "urgent"), "priority: 'urgent' is not a priority"),
        (("add", "--id", "dup"), "error: id: store 'dup' already exists"),
        (("add",), "error: Missing option '--id'."),
        (("remove", "ghost"), "error: unknown store 'ghost'"),
        (("enable", "ghost"), "error: unknown store 'ghost'"),
        (("disable", "ghost"), "error: unknown store 'ghost'"),
        (("release", "ghost"), "error: unknown store 'ghost'"),
        (("history", "ghost"), "error: unknown store 'ghost'"),
        (("set-priority", "ghost", "high"), "error: unknown store 'ghost'"),
        (("set-priority", "dup", "urgent"), "error: priority: 'urgent' is not a priority"),
        (("set-schedule", "dup", "--window", "9-5"), "error: window: '9' is not a time HH:MM"),
        (("set-schedule", "dup", "--timezone", "Nowhere"), "timezone: 'Nowhere' is not an IANA"),
        (("set-schedule", "dup"), "error: schedule: give --timezone, --window or --always"),
        (("list", "--priority", "urgent"), "error: priority: 'urgent' is not a priority"),
        (("run", "--dry-run", "--priority", "x"), "error: priority: 'x' is not a priority"),
        (("import", "/nonexistent/stores.yaml"), "stores.yaml: cannot read"),
        (("frobnicate",), "error: No such command 'frobnicate'."),
        (("history",), "error: Missing argument 'STORE'."),
        (("set-priority", "dup"), "error: Missing argument 'PRIORITY'."),
        (("add", "--id", "a", "--cap", "gpu=1"), "store 'a': pool_caps: unknown pool 'gpu'"),
        (("add", "--id", "a", "--cap", "browser=0"), "browser: a cap is a whole number of slots"),
        (("add", "--id", "a", "--cap", "browser=-2"), "browser: a cap is a whole number of slots"),
        (("add", "--id", "a", "--cap", "browser"), "--cap 'browser': expected POOL=N"),
        (("add", "--id", "a", "--cap", "browser=one"), "--cap 'browser=one': expected POOL=N"),
        (("add", "--id", "a", "--max-jobs", "0"), "'--max-jobs': Input should be greater than"),
        (("set-caps", "dup", "--cap", "gpu=1"), "store 'dup': pool_caps: unknown pool 'gpu'"),
        (("set-caps", "dup", "--uncap", "gpu"), "store 'dup': unknown pool 'gpu'"),
        (("set-caps", "dup", "--cap", "api:dnc=0"), "api:dnc: a cap is a whole number of slots"),
        (("set-caps", "dup", "--max-jobs", "-1"), "'--max-jobs': Input should be greater than"),
        (("set-caps", "dup"), "error: caps: give --cap, --uncap, --max-jobs or --no-max-jobs"),
        (("set-caps", "dup", "--max-jobs", "2", "--no-max-jobs"), "not both"),
        (("set-caps", "ghost", "--cap", "browser=1"), "error: unknown store 'ghost'"),
    ],
)
def test_bad_input_is_exit_1_and_one_line_naming_the_field(
    invoke, args: tuple[str, ...], expected: str
) -> None:  # type: ignore[no-untyped-def]
    ok_json(invoke, "add", "--id", "dup")
    assert expected in one_line_error(invoke, *args)


def test_run_refuses_an_unknown_store_before_any_flow_run(
    invoke, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    calls = []
    monkeypatch.setattr(
        core, "_runs", types.SimpleNamespace(run_stores_cli=lambda **kwargs: calls.append(kwargs))
    )
    ok_json(invoke, "add", "--id", "real")
    assert one_line_error(invoke, "run", "--stores", "real,does-not-exist") == (
        "error: unknown store 'does-not-exist'"
    )
    assert calls == []  # the parent flow was never called: no flow run exists


@pytest.mark.parametrize(
    "args",
    [
        ("run", "--stores", "does-not-exist"),
        ("run", "--dry-run", "--stores", "does-not-exist"),
        ("history", "does-not-exist"),
        ("add", "--id", "Bad_Id"),
        ("list", "--priority", "urgent"),
        ("frobnicate",),
    ],
)
def test_with_json_errors_are_json_on_stderr(invoke, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = invoke(*args, "--json")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert json.loads(lines[0])["error"]


def test_import_is_all_or_nothing(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok_json(invoke, "add", "--id", "existing")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "stores:\n  - id: fine\n  - id: also-fine\n    priority: high\n"
        "  - id: broken\n    window: 25:00-03:00\n"
    )
    line = one_line_error(invoke, "import", str(bad), "--merge")
    assert line == (
        f"error: {bad}: entry 3, store 'broken': window: '25:00' is not a time HH:MM (00:00–23:59)"
    )
    line = one_line_error(invoke, "import", str(bad))
    assert "entry 3" in line
    assert [r["id"] for r in ok_json(invoke, "list")] == ["existing"]


def test_import_replace_keeps_stores_with_history_unless_forced(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok_json(invoke, "add", "--id", "busy")
    ok_json(invoke, "add", "--id", "idle")
    registry = Registry()
    registry.finish_run(registry.start_run("busy", "f"), "completed")
    new = tmp_path / "new.json"
    new.write_text(json.dumps([{"id": "fresh", "priority": "low"}]))

    line = one_line_error(invoke, "import", str(new))
    assert "would remove stores with run history: busy" in line
    assert [r["id"] for r in ok_json(invoke, "list")] == ["busy", "idle"]

    assert ok_json(invoke, "import", str(new), "--merge") == {
        "added": ["fresh"],
        "updated": [],
        "removed": [],
    }
    summary = ok_json(invoke, "import", str(new), "--force")
    assert summary["removed"] == ["busy", "idle"]
    assert [r["id"] for r in ok_json(invoke, "list")] == ["fresh"]


def test_caps_set_by_flags_round_trip_through_the_store_file(
    invoke, tmp_path: Path, second_registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    ok_json(invoke, "add", "--id", "capped", "--cap", "browser=1", "--cap", "api:dnc=2")
    ok_json(invoke, "add", "--id", "jobs", "--max-jobs", "2")
    ok_json(invoke, "add", "--id", "plain")
    store = Registry().get("capped")
    assert store.pool_caps == {"browser": 1, "api:dnc": 2} and store.max_concurrent_jobs is None
    assert Registry().get("jobs").max_concurrent_jobs == 2

    first = tmp_path / "first.yaml"
    ok_json(invoke, "export", str(first))
    written = {s["id"]: s for s in yaml.safe_load(first.read_text())["stores"]}
    assert written["capped"]["pool_caps"] == {"browser": 1, "api:dnc": 2}
    assert written["jobs"]["max_concurrent_jobs"] == 2
    assert "pool_caps" not in written["plain"] and "max_concurrent_jobs" not in written["plain"]

    # An edit changes one pool's cap, removes another's, and sets then clears the jobs' cap.
    ok_json(invoke, "set-caps", "capped", "--cap", "browser=3", "--uncap", "api:dnc")
    ok_json(invoke, "set-caps", "capped", "--max-jobs", "4")
    assert Registry().get("capped").pool_caps == {"browser": 3}
    assert Registry().get("capped").max_concurrent_jobs == 4
    ok_json(invoke, "set-caps", "jobs", "--no-max-jobs")
    assert Registry().get("jobs").max_concurrent_jobs is None
    second = tmp_path / "second.yaml"
    ok_json(invoke, "export", str(second))

    monkeypatch.setenv("MULTISTORE_DATABASE_URL", second_registry_url)
    reset_settings()
    ok_json(invoke, "import", str(second))
    assert Registry().get("capped").pool_caps == {"browser": 3}
    assert Registry().get("capped").max_concurrent_jobs == 4
    third = tmp_path / "third.yaml"
    ok_json(invoke, "export", str(third))
    assert third.read_text() == second.read_text()


def test_export_then_import_into_an_empty_database(
    invoke, tmp_path: Path, second_registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    ok_json(invoke, "import", str(EXAMPLE_STORES))
    Registry().record_outcome("peachtree-kia", False, "boom", threshold=1)
    registry = Registry()
    registry.finish_run(registry.start_run("harbor-nissan", "f"), "completed")
    first = tmp_path / "first.yaml"
    assert ok_json(invoke, "export", str(first))["exported"] == 12

    monkeypatch.setenv("MULTISTORE_DATABASE_URL", second_registry_url)
    reset_settings()
    assert ok_json(invoke, "list") == []
    ok_json(invoke, "import", str(first))
    second = tmp_path / "second.yaml"
    ok_json(invoke, "export", str(second))
    assert second.read_text() == first.read_text()
    exported = yaml.safe_load(second.read_text())["stores"]
    quarantined = {s["id"] for s in exported if s.get("quarantined_at")}
    assert quarantined == {"peachtree-kia"}


def test_demo_adds_missing_examples_and_keeps_user_edits(
    registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from devtools.demo import main

    assert main() == 0
    assert "12 added" in capsys.readouterr().out
    # A user's edits survive the next demo; a store they removed comes back.
    Registry().disable("harbor-nissan")
    Registry().set_priority("sunset-ford", "low")
    Registry().remove("peachtree-kia")
    assert main() == 0
    out = capsys.readouterr().out
    assert "1 added, 0 reset, 11 kept as they are" in out and "12 stores:" in out
    assert len(Registry().list()) == 12
    assert not Registry().get("harbor-nissan").enabled
    assert Registry().get("sunset-ford").priority == "LOW"
    # --reset puts the examples back as the file has them.
    assert main(reset=True) == 0
    assert "0 added, 12 reset, 0 kept" in capsys.readouterr().out
    assert Registry().get("harbor-nissan").enabled


def test_the_command_is_composed_without_lookups_and_the_core_names_no_other_part() -> None:
    """cli/app.py adds every part's verbs; multistore/cli.py alone imports no flows, sandbox or
    Prefect (it names no module it does not import)."""
    from cli.app import app as composed

    names = set(typer.main.get_command(composed).commands)
    assert {
        "list",
        "run",
        "status",
        "setup",
        "run-store",
        "sandbox",
        "graph",
        "health",
        "sync",
    } <= names
    probe = (
        "import sys, typer, multistore.cli as core\n"
        "others = {'flows', 'sandbox', 'prefect', 'cli'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in others)\n"
        "assert not loaded, loaded\n"
        "verbs = set(typer.main.get_command(core.app).commands)\n"
        "assert {'list', 'run', 'status'} <= verbs and 'setup' not in verbs, verbs\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- the installed console script, in real processes -----------------------------------------


def _env(registry_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MULTISTORE_DATABASE_URL"] = registry_url
    env.pop("STORE_IDS", None)
    return env


def test_console_script_errors_are_one_line(registry_url: str) -> None:
    env = _env(registry_url)
    done = subprocess.run(
        [str(MULTISTORE), "add", "--id", "x", "--timezone", "Atlantis/Capital"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "error: store 'x': timezone: 'Atlantis/Capital' is not an IANA time zone\n"
    )
    env["STORE_IDS"] = "ok-one,NOT OK"
    done = subprocess.run(
        [str(MULTISTORE), "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: STORE_IDS entry 2: 'NOT OK' is not a store id")
    assert done.stderr.count("\n") == 1


def test_store_ids_env_adds_stores(registry_url: str) -> None:
    env = _env(registry_url)
    env["STORE_IDS"] = "north-shop,south-shop"
    done = subprocess.run(
        [str(MULTISTORE), "list", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in json.loads(done.stdout)] == ["north-shop", "south-shop"]


def test_set_schedule_prompts_in_a_terminal(registry_url: str) -> None:
    Registry(registry_url).add("prompted", timezone="UTC")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on a terminal, as a person would run it
        os.execve(
            str(MULTISTORE), [str(MULTISTORE), "set-schedule", "prompted"], _env(registry_url)
        )
    transcript = b""
    answers = [b"America/Denver\n", b"23:00-04:00\n"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        transcript += chunk
        if answers and transcript.rstrip().endswith(b":"):
            os.write(fd, answers.pop(0))
            transcript += b"\n"
    _, status = os.waitpid(pid, 0)
    text = transcript.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "Time zone" in text and "Window" in text
    store = Registry(registry_url).get("prompted")
    assert (store.timezone, store.window_start, store.window_end) == (
        "America/Denver",
        "23:00",
        "04:00",
    )


def test_an_unreachable_registry_is_one_line_naming_it_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "MULTISTORE_DATABASE_URL", "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/x"
    )
    reset_settings()
    result = CliRunner().invoke(command, ["list"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "error: registry database postgresql+psycopg://postgres:***@127.0.0.1:1/x is not reachable"
    )
    assert "s3cret" not in result.stderr


def test_a_stores_caps_round_trip_through_import_and_export(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`max_concurrent_jobs` and `pool_caps` are read from the store's YAML, kept in the
    registry, and written back by export; a store without them exports as before."""
    stores = tmp_path / "stores.yaml"
    stores.write_text(
        "stores:\n"
        "  - id: small-lot\n"
        "    max_concurrent_jobs: 2\n"
        "    pool_caps: {browser: 1, 'api:dnc': 2}\n"
        "  - id: big-lot\n"
    )
    ok_json(invoke, "import", str(stores))
    small = Registry().get("small-lot")
    assert (small.max_concurrent_jobs, small.pool_caps) == (2, {"browser": 1, "api:dnc": 2})
    assert (Registry().get("big-lot").max_concurrent_jobs, Registry().get("big-lot").pool_caps) == (
        None,
        {},
    )
    exported = tmp_path / "exported.yaml"
    ok_json(invoke, "export", str(exported))
    entries = {s["id"]: s for s in yaml.safe_load(exported.read_text())["stores"]}
    assert entries["small-lot"]["max_concurrent_jobs"] == 2
    assert entries["small-lot"]["pool_caps"] == {"browser": 1, "api:dnc": 2}
    assert "max_concurrent_jobs" not in entries["big-lot"] and "pool_caps" not in entries["big-lot"]
    ok_json(invoke, "import", str(exported))
    assert Registry().get("small-lot").pool_caps == {"browser": 1, "api:dnc": 2}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("pool_caps: {browsers: 1}", "pool_caps: Value error, unknown pool 'browsers'"),
        ("pool_caps: {browser: 0}", "pool_caps: browser: a cap is a whole number of slots"),
        ("max_concurrent_jobs: 0", "max_concurrent_jobs: Input should be greater than or equal"),
    ],
)
def test_a_bad_cap_is_one_line_naming_it(invoke, tmp_path: Path, entry: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    stores = tmp_path / "stores.yaml"
    stores.write_text(f"stores:\n  - id: capped\n    {entry}\n")
    line = one_line_error(invoke, "import", str(stores))
    assert line.startswith(f"error: {stores}: entry 1, store 'capped': ")
    assert expected.replace("Value error, ", "") in line, line
