"""The one duration parser that settings, the Splunk config, windows and rules share."""

from __future__ import annotations

import pytest

from ingest.durations import DurationError, parse_duration
from ingest.errors import HopwatchError
from ingest.splunk import SplunkConfig, SplunkConfigError
from service.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800),
        ("90s", 90),
        ("1h", 3600),
        ("1H", 3600),
        ("1d", 86400),
        (" 2 d ", 172800),
        ("1800", 1800),
        (600, 600),
        ("1.5h", 5400),
        (2.0, 2),
    ],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text, name="window") == seconds


@pytest.mark.parametrize("text", ["", "0", 0, "-5m", -3, "30x", "m", "0.5s", True, "1e3", "nan"])
def test_parse_duration_rejects_naming_the_field(text: object) -> None:
    with pytest.raises(DurationError, match=r"^window: ") as info:
        parse_duration(text, name="window")
    assert isinstance(info.value, HopwatchError) and isinstance(info.value, ValueError)


def test_zero_only_where_allowed() -> None:
    assert parse_duration("0", name="lag", allow_zero=True) == 0
    assert parse_duration("0s", name="lag", allow_zero=True) == 0
    with pytest.raises(DurationError, match="lag: must be >= 0"):
        parse_duration(-1, name="lag", allow_zero=True)


def test_every_user_of_durations_reads_the_same_text(tmp_path) -> None:
    """Settings, the Splunk config and rule spans accept '1.5h' alike and refuse 'soon'."""
    settings = load_settings(data={"window": "1.5h"}, detection={"campaign_span": "1.5h"})
    assert settings.data.window == settings.detection.campaign_span == 5400
    cfg = SplunkConfig(host="splunk.example", token="t" * 20, lag="1.5h", batch_span="1.5h")
    assert cfg.lag == cfg.batch_span == 5400
    with pytest.raises(SplunkConfigError, match="lag"):
        SplunkConfig(host="splunk.example", token="t" * 20, lag="soon")
    with pytest.raises(SettingsError, match="window"):
        load_settings(data={"window": "soon"})
