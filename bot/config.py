"""Configuration: a TOML file plus environment variables, validated by pydantic.

Precedence: environment variables (``JAGANETRAL_<SECTION>__<KEY>``, e.g. ``JAGANETRAL_TELEGRAM__TOKEN``)
override the TOML file, which overrides the defaults below. Any problem is reported as one
:class:`ConfigError` whose message names the offending key, never as a traceback.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

ENV_PREFIX = "JAGANETRAL_"
DEFAULT_DB_PATH = Path("data") / "jaganetral.db"
# Fallback secret for the credential-free console chat only; `run` with a real channel refuses it.
DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # noqa: S105 (refused for real channels)


class ConfigError(Exception):
    """Invalid or missing configuration; the message is meant for the operator as is."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _user_id(v: int) -> int:
    if v <= 0:
        raise ValueError(f"a Telegram user id is a positive whole number, got {v} (a group for alerts goes in "
                         "delivery.alert_chat_id)")
    return v


_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # setWebhook's secret_token
_WA_NUMBER = re.compile(r"\+[1-9]\d{6,14}")  # E.164, as Twilio gives the sender of a message


def _wa_admin(v: str) -> str:
    if not _WA_NUMBER.fullmatch(v.strip().removeprefix("whatsapp:")):
        raise ValueError(f'must be the number in international format, e.g. "whatsapp:+6281234567890", got {v!r}')
    return v.strip()


class TelegramConfig(_Section):
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    admin_ids: list[Annotated[int, AfterValidator(_user_id)]] = Field(default_factory=list)
    mode: str = "polling"  # polling | webhook
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    poll_timeout: float = Field(default=10.0, ge=0)
    # Updates handled at the same time (PTB ``concurrent_updates``); one chat's updates still go one at a time,
    # in order (``bot.core.locks``). 1 = one update at a time for the whole bot.
    concurrent_updates: int = Field(default=64, ge=1, le=1024)

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not _WEBHOOK_SECRET.fullmatch(v.get_secret_value()):
            raise ValueError("must be 1-256 characters A-Z, a-z, 0-9, _ or - (Telegram's rule)")
        return v

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().startswith("https://"):
            raise ValueError(f"must be an https:// URL (Telegram sends webhooks over HTTPS only), got {v!r}")
        return v

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if v not in ("polling", "webhook"):
            raise ValueError("must be 'polling' or 'webhook'")
        return v

    @property
    def enabled(self) -> bool:
        return self.token is not None and bool(self.token.get_secret_value())


class WhatsAppConfig(_Section):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    sender: str | None = None  # e.g. "whatsapp:+14155238886"
    public_url: str | None = None  # public webhook URL as Twilio sees it (behind a proxy)
    api_base_url: str | None = None  # only for tests / proxies
    admin_numbers: list[Annotated[str, AfterValidator(_wa_admin)]] = Field(default_factory=list)
    templates: dict[str, str] = Field(default_factory=dict)  # purpose -> content SID (HX...)

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str | None) -> str | None:
        # without the prefix the Twilio client would send an SMS from that number
        if v and not (v.startswith("whatsapp:") and _WA_NUMBER.fullmatch(v.removeprefix("whatsapp:"))):
            raise ValueError(f'must be "whatsapp:" and the number in international format, e.g. '
                             f'"whatsapp:+14155238886", got {v!r}')
        return v

    @property
    def enabled(self) -> bool:
        return bool(self.account_sid and self.auth_token and self.sender)


class DatabaseConfig(_Section):
    url: str = f"sqlite+aiosqlite:///{DEFAULT_DB_PATH}"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not (v.startswith("sqlite+aiosqlite://") or v.startswith("postgresql+asyncpg://")):
            raise ValueError("must start with 'sqlite+aiosqlite://' or 'postgresql+asyncpg://'")
        from sqlalchemy.engine import make_url

        try:
            url = make_url(v)
        except (ValueError, TypeError):  # the URL itself is not repeated: it may hold the password
            raise ValueError("not a valid database URL (check the port is a number and the password is "
                             "URL-encoded, e.g. @ as %40)") from None
        if url.drivername == "postgresql+asyncpg" and "sslmode" in url.query:
            raise ValueError(f"asyncpg takes ssl={url.query['sslmode']}, not sslmode={url.query['sslmode']}")
        return v


class RateLimits(_Section):
    telegram_global_per_sec: float = 30.0
    telegram_per_chat_per_sec: float = 1.0
    telegram_per_group_per_min: float = 20.0
    whatsapp_per_sec: float = 10.0
    # Processes that send (``run`` + every ``worker``): each takes 1/N of the global rates (PostgreSQL only).
    sender_processes: int = 1

    @field_validator("*")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v


# Sends in flight at once: enough for the configured rates over a slow link (Telegram from Indonesia: round
# trips of 100-300 ms), at least 64. At 30 msg/s that is 64; at 1000 msg/s (paid broadcasts) 300.
MIN_INFLIGHT = 64
MAX_INFLIGHT = 1000
LINK_SECONDS = 0.3


def max_inflight(settings: Settings) -> int:
    """How many sends the delivery loop keeps in flight in this process (also sizes the HTTP pool)."""
    rl = settings.rate_limits
    per_process = (rl.telegram_global_per_sec + rl.whatsapp_per_sec) / max(1, rl.sender_processes)
    return min(MAX_INFLIGHT, max(MIN_INFLIGHT, int(per_process * LINK_SECONDS)))


class TipsConfig(_Section):
    max_per_day: int = Field(default=5, ge=1)
    max_text_chars: int = Field(default=2000, ge=1)
    max_media: int = Field(default=5, ge=0)
    max_media_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    retention_days: int = Field(default=90, ge=0)
    ask_timeout_minutes: int = Field(default=10, ge=1)  # a "tanya pelapor" prompt expires after this long
    typed_answer_hours: int = Field(default=72, ge=1)  # a message typed after a question this recent: an answer?


class RetentionConfig(_Section):
    """How long personal data is kept (``bot/storage/retention.py``; run hourly by the scheduler)."""

    outbox_days: int = 7  # sent messages: address, text and platform message id are wiped after this
    processed_updates_days: int = 2  # inbound update ids (duplicate detection; platforms redeliver for 24 h)
    drafts_days: int = 30  # unfinished flows (tip drafts, questions being typed) and button memory
    exports_days: int = 7  # generated /ekspor files
    unanswered_days: int = 180  # unanswered FAQ questions (free text typed by users)

    @field_validator("*")
    @classmethod
    def _at_least_one(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1 (days)")
        return v


class SecurityConfig(_Section):
    secret_key: SecretStr | None = None  # HMAC pseudonyms + Fernet key derivation; >= 32 chars

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return v


class WebConfig(_Section):
    """The ASGI server for webhooks (Telegram webhook mode, Twilio) and the health endpoint."""

    host: str = "127.0.0.1"
    port: int = 8080

    @field_validator("port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 0 <= v <= 65535:
            raise ValueError("must be a TCP port (0-65535)")
        return v


class SchedulerConfig(_Section):
    misfire_grace_minutes: int = Field(default=60, ge=1)
    reminder_offsets_days: list[int] = Field(default_factory=lambda: [7, 1, 0])
    # PostgreSQL: only the process holding the scheduler advisory lock runs the scheduler; a standby
    # retries (and the leader re-checks its lock connection) this often.
    leader_retry_seconds: float = Field(default=5.0, gt=0)


class DeliveryConfig(_Section):
    """Attempt caps and alerts: no message ends silently (``bot.app.alerts``)."""

    max_attempts: int = 10  # a non-tip message is given up ("dead") after this many failed attempts
    tip_alert_minutes: float = 30.0  # a tip not yet delivered to its group after this long alerts the admins
    check_every_seconds: float = 60.0  # how often the delivery watch looks for dead, stuck and unrouted messages
    alert_chat_id: int | None = None  # Telegram chat (e.g. an admin group) for alerts; else every admin

    @field_validator("max_attempts", "tip_alert_minutes", "check_every_seconds")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    timezone: str = "Asia/Makassar"
    log_level: str = "INFO"
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    whatsapp: WhatsAppConfig = Field(default_factory=WhatsAppConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    tips: TipsConfig = Field(default_factory=TipsConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    # Region code ("64" or "64.02") -> Bawaslu Telegram group chat id.
    bawaslu_groups: dict[str, int] = Field(default_factory=dict)
    console_admin: bool = True  # the local console user acts as admin
    # Set by a runtime, never by a file or the environment: the group every region falls back to when no
    # [bawaslu_groups] entry (not even "default") matches. The console chat sets its simulated group when
    # it runs without a configuration file (bot/app/chat.py).
    _fallback_group: int | None = PrivateAttr(default=None)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v.upper()

    @field_validator("bawaslu_groups", mode="before")
    @classmethod
    def _groups(cls, v: Any) -> Any:
        """Every problem of the table at once (unknown codes and non-integer ids), not one kind per run."""
        if not isinstance(v, dict) or not v:
            return v
        from bot import regions

        problems = []
        for code, gid in v.items():
            if code != "default" and regions.get(str(code)) is None:
                problems.append(f"unknown region code {code!r} (Kemendagri code such as \"64\" or \"64.02\")")
            if (isinstance(gid, bool) or not isinstance(gid, int)) and not (
                isinstance(gid, str) and gid.lstrip("-").isdecimal()
            ):
                problems.append(f"{code!r}: the group chat id must be a whole number, got {gid!r}")
            elif int(gid) >= 0:  # a positive id is a person's private chat: tips would go to that person
                problems.append(f"{code!r}: a group chat id is negative (e.g. -1001000000064), got {gid!r}; "
                                "send /bantuan in the group to see its id")
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @model_validator(mode="after")
    def _sender_processes(self) -> Settings:
        if self.rate_limits.sender_processes > 1 and self.is_sqlite:
            raise ValueError(
                "rate_limits.sender_processes > 1 needs PostgreSQL: SQLite has a single writer, "
                "run one process (`python -m bot run`) and no `python -m bot worker`"
            )
        return self

    @model_validator(mode="after")
    def _webhook(self) -> Settings:
        if self.telegram.mode == "webhook" and not (self.telegram.webhook_url and self.telegram.webhook_secret):
            raise ValueError("telegram.mode = 'webhook' needs telegram.webhook_url and telegram.webhook_secret")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (the file arrives as init kwargs).
        return env_settings, init_settings

    # --- derived ---------------------------------------------------------------------------------
    @property
    def secret(self) -> str:
        key = self.security.secret_key
        return key.get_secret_value() if key is not None else DEV_SECRET

    @property
    def using_dev_secret(self) -> bool:
        return self.security.secret_key is None

    @property
    def is_sqlite(self) -> bool:
        return self.database.url.startswith("sqlite")

    @property
    def fallback_group(self) -> int | None:
        return self._fallback_group

    def with_fallback_group(self, group_chat_id: int | None) -> Settings:
        """A copy of these settings whose otherwise unrouted tips go to ``group_chat_id``."""
        copy = self.model_copy()
        copy._fallback_group = group_chat_id
        return copy


# pydantic's wording for the usual mistakes, said plainly with the offending value
_PLAIN = {
    "int_parsing": "must be a whole number, got {input!r}",
    "int_type": "must be a whole number, got {input!r}",
    "int_from_float": "must be a whole number, got {input!r}",
    "float_parsing": "must be a number, got {input!r}",
    "float_type": "must be a number, got {input!r}",
    "bool_parsing": "must be true or false, got {input!r}",
    "bool_type": "must be true or false, got {input!r}",
    "string_type": "must be text in quotes, got {input!r}",
    "list_type": "must be a list in brackets, e.g. [1, 2], got {input!r}",
    "dict_type": "must be a table ([section] or {{ key = value }}), got {input!r}",
    "model_type": "must be a [section] table, got {input!r}",
    "greater_than_equal": "must be at least {ge}, got {input!r}",
    "greater_than": "must be greater than {gt}, got {input!r}",
    "less_than_equal": "must be at most {le}, got {input!r}",
}


def _message(e: Any) -> str:
    if e["type"] == "extra_forbidden":
        return "unknown key (check spelling; see config.example.toml)"
    plain = _PLAIN.get(e["type"])
    if plain is not None:
        try:
            ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in (e.get("ctx") or {}).items()}
            return plain.format(input=e.get("input"), **ctx)
        except (KeyError, IndexError, ValueError):
            pass
    return str(e["msg"]).removeprefix("Value error, ")


def _format_error(err: ValidationError, source: str) -> str:
    lines = [f"Invalid configuration ({source}):"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {key}: {_message(e)}")
    return "\n".join(lines)


def _needs_json(path: list[str]) -> tuple[str, bool] | None:
    """For an environment variable naming ``path`` (lower-case keys below Settings): an example of the JSON its
    value must be when the key is a list, a table or a whole section (and whether it is a section); None for
    plain values."""
    model: Any = Settings
    for i, key in enumerate(path):
        fields = getattr(model, "model_fields", None)
        if not fields or key not in fields:
            return None
        annotation = fields[key].annotation
        origin = get_origin(annotation)
        if origin is list:
            return ("[1, 2]", False) if i == len(path) - 1 else None
        if origin is dict:
            return ('{"key": "value"}', False) if i == len(path) - 1 else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if i == len(path) - 1:
                return '{"key": "value"}', True
            model = annotation
            continue
        return None
    return None


def _env_json_problems() -> list[str]:
    """Environment variables holding a list, table or section that is not JSON (pydantic-settings only says
    which top-level field failed, in a traceback)."""
    problems = []
    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        needs = _needs_json(name[len(ENV_PREFIX):].lower().split("__"))
        if needs is None:
            continue
        example, section = needs
        try:
            json.loads(value)
        except ValueError:
            # a whole section may hold a token or key: its value is not repeated
            got = "" if section else f", got {value!r}"
            problems.append(f"  {name}: must be JSON, e.g. {example}{got}")
    return problems


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``path`` (TOML) and the environment. Raises ConfigError with a clear message."""
    data: dict[str, Any] = {}
    source = "defaults and environment"
    if path is None and os.environ.get(f"{ENV_PREFIX}CONFIG"):
        path = os.environ[f"{ENV_PREFIX}CONFIG"]
    if path is not None:
        p = Path(path)
        source = str(p)
        if not p.is_file():
            raise ConfigError(f"Configuration file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Configuration file {p} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"Configuration file {p} is not UTF-8 text") from None
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from None
    except SettingsError as exc:  # a value of the environment pydantic-settings could not decode
        lines = _env_json_problems() or [f"  {str(exc).removeprefix('error parsing value for field ')}"]
        raise ConfigError("\n".join(["Invalid configuration (environment):", *lines])) from None


def routing_problem(settings: Settings) -> str | None:
    """Why tips could not reach their groups with this configuration (``run``, not the console chat)."""
    if settings.bawaslu_groups and not settings.telegram.enabled:
        return (
            "bawaslu_groups routes tips to Telegram groups, but telegram.token is not set: tips would never be "
            "delivered. Set telegram.token (env JAGANETRAL_TELEGRAM__TOKEN), or remove [bawaslu_groups] to use "
            "the console chat."
        )
    return None
