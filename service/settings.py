"""The one settings tree of the hopwatch service.

Values come from (highest priority first) keyword arguments, ``HOPWATCH_``
environment variables (nested with ``__``: ``HOPWATCH_DATABASE__URL``), an
optional TOML or YAML file (``--config`` or ``HOPWATCH_CONFIG``), then the
defaults below. Only this module reads the environment; everything else gets
plain objects (:class:`Settings` sections, ``LLMConfig``, ``SplunkConfig``).

``load_settings()`` refuses bad values with a :class:`SettingsError` that names
every bad field and its environment variable.

Example ``hopwatch.toml``::

    [database]
    url = "postgresql://hopwatch@db/hopwatch"
    [data]
    dir = "/var/lib/hopwatch/data"
    [detection]
    thresholds = { gnn = 0.9, xgb = 0.9 }
    [models]
    xgb = "/var/lib/hopwatch/models/xgb"
    [llm]
    engine = "openai"
    openai_base_url = "http://vllm:8000/v1"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ingest.durations import parse_duration
from ingest.errors import HopwatchError

ENV_PREFIX = "HOPWATCH_"
CONFIG_ENV = "HOPWATCH_CONFIG"
_DEFAULT_SECRETS = {"changeme", "change-me", "password", "admin", "secret", "splunk"}


class SettingsError(HopwatchError, ValueError):
    """The settings are missing or invalid; the message names every bad field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    """Where alerts, campaigns, API keys and jobs are stored."""

    url: str = Field(
        default="sqlite:///hopwatch.db",
        description="SQLAlchemy URL: sqlite:///path.db (WAL) or postgresql://user@host/db",
    )
    pool_size: int = Field(
        default=20, ge=1, le=200, description="connections per process (+ as many overflow)"
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        if not v.startswith(
            ("sqlite:///", "postgresql://", "postgresql+psycopg://", "postgres://")
        ):
            raise ValueError("expected sqlite:///PATH or postgresql://USER@HOST/DB")
        return v


class DataSettings(_Section):
    """The data directory (docs/data-format.md) and windowing."""

    dir: Path = Field(default=Path("data"), description="data directory written by ingest")
    window: int = Field(default=1800, description="window size: seconds or '30m', '1h'")

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> int:
        return parse_duration(v, name="window")


class DetectionSettings(_Section):
    """How scores and rule hits become alerts and campaigns."""

    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"gnn": 0.9, "xgb": 0.9},
        description="detector -> alert threshold in [0, 1]",
    )
    campaign_span: int = Field(
        default=8 * 3600,
        description="longest gap between linked alerts of a campaign: seconds or '8h'",
    )
    rules_dir: Path | None = Field(
        default=None,
        description="folder of Sigma rules, e.g. SigmaHQ's rules/windows (default: built-in); "
        "rules hopwatch cannot evaluate are refused and logged (`hopwatch rules check`)",
    )

    @field_validator("thresholds")
    @classmethod
    def _in_unit_interval(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, x in v.items() if not 0.0 <= x <= 1.0]
        if bad:
            raise ValueError(f"thresholds must be in [0, 1]: {', '.join(bad)}")
        return v

    @field_validator("campaign_span", mode="before")
    @classmethod
    def _span(cls, v: Any) -> int:
        return parse_duration(v, name="campaign_span")


class ModelSettings(_Section):
    """Saved detector models (``hopwatch detect train --out``); unset: not used."""

    gnn: Path | None = Field(default=None, description="saved GNN model")
    xgb: Path | None = Field(default=None, description="saved XGBoost model")

    @field_validator("gnn", "xgb")
    @classmethod
    def _exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.exists():
            raise ValueError(f"model path {v} does not exist")
        return v

    def paths(self) -> dict[str, Path]:
        """Detector name -> path, for the configured ones."""
        return {k: v for k, v in (("gnn", self.gnn), ("xgb", self.xgb)) if v is not None}


class LLMSettings(_Section):
    """The alert summarizer (see ``models.llm.config.LLMConfig``)."""

    engine: Literal["template", "auto", "llamacpp", "transformers", "openai"] = Field(
        default="auto",
        description="template: deterministic text only; auto: llamacpp on CPU, "
        "transformers on CUDA; llamacpp: the GGUF run by llama.cpp; transformers: "
        "in-process torch; openai: an external OpenAI-compatible server",
    )
    model_path: str | None = Field(default=None, description="model folder or .gguf file")
    quantization: Literal["auto", "none", "int8", "int4"] = "auto"
    device: str = "auto"
    max_new_tokens: int = Field(default=224, ge=1, le=2048)
    batch_size: int = Field(default=16, ge=1, le=512)
    queue_size: int = Field(default=256, ge=1)
    timeout_s: float = Field(default=120.0, gt=0)
    threads: int | None = Field(default=None, ge=1, le=256, description="llama.cpp CPU threads")
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: str | None = None
    openai_model: str = "SmolLM2-135M-Instruct"

    @field_validator("openai_base_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("expected an http(s):// URL")
        return v

    def to_config(self) -> Any:
        """The ``LLMConfig`` for the summarizer (``None`` for the template engine)."""
        if self.engine == "template":
            return None
        from models.llm.config import LLMConfig

        fields = self.model_dump(exclude={"engine"})
        return LLMConfig(engine=self.engine, **fields)


class SplunkSettings(_Section):
    """Connection to a Splunk deployment (for ``hopwatch ingest splunk``)."""

    enabled: bool = False
    host: str = "localhost"
    port: int = Field(default=8089, ge=1, le=65535)
    scheme: Literal["http", "https"] = "https"
    token: str | None = Field(default=None, repr=False)
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    verify: bool = True
    index: str = "main"
    sourcetypes: list[str] = Field(default_factory=lambda: ["XmlWinEventLog"])

    @field_validator("password", "token")
    @classmethod
    def _no_default_secret(cls, v: str | None) -> str | None:
        if v is not None and v.strip().lower() in _DEFAULT_SECRETS:
            raise ValueError("a default/placeholder secret is refused")
        return v

    def to_config(self) -> Any:
        """The ``ingest.splunk.config.SplunkConfig``; raises its error naming a bad field."""
        from ingest.splunk.config import SplunkConfig

        return SplunkConfig(**self.model_dump(exclude={"enabled"}))


class ApiSettings(_Section):
    """The REST API."""

    host: str = Field(default="127.0.0.1", description="bind address")
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="request body cap")
    max_page: int = Field(default=500, ge=1, le=10_000, description="largest page of a list")
    docs: bool = Field(default=True, description="serve /docs and /openapi.json")


class WorkerSettings(_Section):
    """Background workers."""

    lease_seconds: float = Field(default=300.0, gt=0, description="claim lease before reclaim")
    poll_seconds: float = Field(default=1.0, gt=0, description="sleep when no job is pending")
    max_attempts: int = Field(default=5, ge=1, description="attempts before a job fails")


class Settings(BaseSettings):
    """Every setting of the service (see the module docstring for sources)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid"
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    splunk: SplunkSettings = Field(default_factory=SplunkSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SettingsError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
            if not isinstance(data, dict):
                raise SettingsError(f"config file {path}: top level must be a mapping")
            return data
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise SettingsError(f"config file {path}: {exc}") from exc
    raise SettingsError(f"config file {path}: expected .toml, .yaml or .yml")


def _describe(exc: ValidationError, file: Path | None) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        env = ENV_PREFIX + "__".join(p.upper() for p in loc)
        where = f" (or in {file})" if file else ""
        lines.append(f"  {'.'.join(loc)} [{env}{where}]: {err['msg']}")
    return "invalid settings:\n" + "\n".join(lines)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build and validate the settings.

    Args:
        config_file: TOML/YAML file; default ``$HOPWATCH_CONFIG`` when set.
        overrides: top-level sections or values that win over everything else.

    Raises:
        SettingsError: a bad or missing value (all of them named) or a bad file.
    """
    path_text = config_file or os.environ.get(CONFIG_ENV)
    path = Path(path_text) if path_text else None
    file_values = _read_file(path) if path else {}

    class _FileSource(PydanticBaseSettingsSource):
        def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
            return file_values.get(field_name), field_name, False

        def __call__(self) -> dict[str, Any]:
            return dict(file_values)

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _FileSource(settings_cls))

    try:
        return _Loaded(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from None
