"""The app's files: commands, help, alert action, settings defaults, no secrets, and
Python that imports only the standard library, its own modules and splunklib."""

from __future__ import annotations

import ast
import configparser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "splunk_app" / "hopwatch"
COMMANDS = ("hopwatchalerts", "hopwatchcampaigns", "hopwatchsummary", "hopwatchsend")


def conf(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(APP / "default" / f"{name}.conf")
    return parser


def test_each_command_is_chunked_python3_with_help():
    commands, bnf = conf("commands"), conf("searchbnf")
    assert set(commands.sections()) == set(COMMANDS)
    for name in COMMANDS:
        stanza = commands[name]
        assert stanza["chunked"] == "true" and stanza["python.version"] == "python3"
        assert (APP / "bin" / stanza["filename"]).is_file()
        help_ = bnf[f"{name}-command"]
        assert help_["syntax"].startswith(name) and help_["usage"] == "public"
        assert any(k.startswith("example") for k in help_)


def test_alert_action_is_complete():
    action = conf("alert_actions")["hopwatch_send"]
    assert action["payload_format"] == "json" and action["python.version"] == "python3"
    assert (APP / "bin" / "hopwatch_send.py").is_file()
    assert (APP / "appserver" / "static" / action["icon_path"]).is_file()
    form = (APP / "default" / "data" / "ui" / "alerts" / "hopwatch_send.html").read_text()
    params = {k for k in action if k.startswith("param.")}
    assert all(f'name="action.hopwatch_send.{p}"' in form for p in params if p != "param._cam")
    spec = (APP / "README" / "alert_actions.conf.spec").read_text()
    assert all(p in spec for p in params)
    cam = json.loads(action["param._cam"])
    assert cam["supports_adhoc"] is True and cam["task"] and cam["subject"] and cam["category"]


def test_tls_is_verified_by_default_and_no_secret_is_in_the_app(app_dir):
    assert conf("hopwatch")["api"]["verify_tls"] == "true"
    assert conf("app")["ui"]["setup_view"] == "hopwatch_setup"
    secrets = re.compile(r"hw_[0-9a-f]{8}_|(password|api_?key|token)\s*=\s*\S", re.I)
    for path in app_dir.rglob("*"):
        if path.suffix in (".conf", ".spec", ".meta", ".xml", ".html", ".json", ".manifest"):
            assert not secrets.search(path.read_text()), path


def test_app_python_imports_only_stdlib_its_own_modules_and_splunklib():
    allowed = set(sys.stdlib_module_names) | {"hopwatch_app", "splunklib", "__future__"}
    for path in (APP / "bin").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_versions_agree_and_the_stage_vendors_splunklib_2_1(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("b", APP.parent / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    app_dir = build.stage(tmp_path)  # fresh: the commands' runs leave __pycache__ behind
    assert build.app_version(app_dir) == conf("app")["launcher"]["version"]
    init = (app_dir / "lib" / "splunklib" / "__init__.py").read_text()
    assert re.search(r"__version_info__ = \(2, 1, \d+\)", init)
    assert not (app_dir / "local").exists() and not list(app_dir.rglob("__pycache__"))


def test_the_stage_ships_the_sigma_rules_as_disabled_saved_searches(tmp_path):
    import importlib.util

    from detections.rules import load_rules, savedsearches_conf, to_splunk

    spec = importlib.util.spec_from_file_location("b", APP.parent / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    source = tmp_path / "savedsearches.conf"
    source.write_text(savedsearches_conf(to_splunk(load_rules())))
    app_dir = build.stage(tmp_path / "stage", source)
    # Splunk .conf: a value goes on over lines that end with a backslash
    text = (app_dir / "default" / "savedsearches.conf").read_text()
    stanzas: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in re.sub(r"\\\n", " ", text).splitlines():
        if line.startswith("["):
            current = stanzas.setdefault(line.strip()[1:-1], {})
        elif " = " in line:
            key, value = line.split(" = ", 1)
            assert key not in current, (line, current)
            current[key] = value
    names = [n for n in stanzas if n.startswith("hopwatch - ")]
    assert len(names) > 20 and len(names) == len(stanzas)
    for name in names:
        stanza = stanzas[name]
        assert stanza["disabled"] == "1" and stanza["enableSched"] == "1"
        assert stanza["search"].strip() and "disabled" not in stanza["search"]
    assert not (build.stage(tmp_path / "plain") / "default" / "savedsearches.conf").exists()


def test_setup_page_script_parses():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed")
    script = APP / "appserver" / "static" / "hopwatch_setup.js"
    done = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    source = script.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "console.log"):  # fmt: skip
        assert sink not in source, sink
