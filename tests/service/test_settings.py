"""The settings tree: defaults, environment, TOML/YAML files, priorities, refusals."""

from __future__ import annotations

import pytest

from service.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("HOPWATCH_"):
            monkeypatch.delenv(name)


def test_defaults_are_valid():
    s = load_settings()
    assert s.database.url == "sqlite:///hopwatch.db"
    assert s.data.window == 1800 and s.api.host == "127.0.0.1" and s.api.port == 8000
    assert s.detection.thresholds == {"gnn": 0.9, "xgb": 0.9}


def test_environment_nested_values(monkeypatch):
    monkeypatch.setenv("HOPWATCH_DATABASE__URL", "postgresql://u@db/hw")
    monkeypatch.setenv("HOPWATCH_DATA__WINDOW", "1h")
    monkeypatch.setenv("HOPWATCH_DETECTION__THRESHOLDS", '{"xgb": 0.75}')
    monkeypatch.setenv("HOPWATCH_API__PORT", "9000")
    s = load_settings()
    assert s.database.url == "postgresql://u@db/hw"
    assert s.data.window == 3600 and s.api.port == 9000
    assert s.detection.thresholds == {"xgb": 0.75}


def test_toml_file_with_env_overriding_it(tmp_path, monkeypatch):
    cfg = tmp_path / "hw.toml"
    cfg.write_text('[data]\nwindow = "15m"\n[api]\nport = 8100\n[llm]\nengine = "template"\n')
    monkeypatch.setenv("HOPWATCH_API__PORT", "8200")
    s = load_settings(cfg)
    assert s.data.window == 900 and s.api.port == 8200 and s.llm.to_config() is None
    monkeypatch.setenv("HOPWATCH_CONFIG", str(cfg))
    assert load_settings().data.window == 900


def test_yaml_file_and_keyword_overrides(tmp_path):
    cfg = tmp_path / "hw.yaml"
    cfg.write_text("detection:\n  campaign_span: 3h\nworker:\n  lease_seconds: 30\n")
    s = load_settings(cfg, worker={"lease_seconds": 5})
    assert s.detection.campaign_span == 10800 and s.worker.lease_seconds == 5


def test_every_bad_value_is_named_with_its_variable(monkeypatch):
    monkeypatch.setenv("HOPWATCH_DATABASE__URL", "mysql://root@db/x")
    monkeypatch.setenv("HOPWATCH_DATA__WINDOW", "soon")
    monkeypatch.setenv("HOPWATCH_DETECTION__THRESHOLDS", '{"gnn": 1.5}')
    monkeypatch.setenv("HOPWATCH_API__PORT", "70000")
    with pytest.raises(SettingsError) as err:
        load_settings()
    text = str(err.value)
    for env in (
        "HOPWATCH_DATABASE__URL",
        "HOPWATCH_DATA__WINDOW",
        "HOPWATCH_DETECTION__THRESHOLDS",
        "HOPWATCH_API__PORT",
    ):
        assert env in text


def test_unknown_keys_missing_models_and_default_secrets_are_refused(tmp_path):
    with pytest.raises(SettingsError, match="databse"):
        load_settings(databse={"url": "sqlite:///x.db"})
    with pytest.raises(SettingsError, match=r"models\.xgb"):
        load_settings(models={"xgb": str(tmp_path / "missing.model")})
    with pytest.raises(SettingsError, match=r"splunk\.password"):
        load_settings(splunk={"username": "admin", "password": "changeme"})
    with pytest.raises(SettingsError, match="openai_base_url"):
        load_settings(llm={"openai_base_url": "ftp://x"})


def test_bad_config_files_are_named(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\n")
    with pytest.raises(SettingsError, match=r"bad\.toml"):
        load_settings(bad)
    ini = tmp_path / "x.ini"
    ini.write_text("")
    with pytest.raises(SettingsError, match=r"expected \.toml"):
        load_settings(ini)


def test_sections_build_plain_configs():
    s = load_settings(
        llm={"engine": "openai", "openai_base_url": "http://vllm:8000/v1", "batch_size": 4},
        splunk={"enabled": True, "host": "splunk.example", "token": "tok-123"},
    )
    llm = s.llm.to_config()
    assert (llm.engine, llm.openai_base_url, llm.batch_size) == ("openai", "http://vllm:8000/v1", 4)
    splunk = s.splunk.to_config()
    assert (splunk.host, splunk.port, splunk.token) == ("splunk.example", 8089, "tok-123")
