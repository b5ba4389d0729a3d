"""``python -m bot doctor``: check configuration, database, Telegram and Twilio; say what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.config import Settings
from bot.storage.db import create_engine
from bot.storage.migrate import alembic_config


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False

    def line(self) -> str:
        mark = "FAIL" if not self.ok else ("WARN" if self.warning else "OK  ")
        return f"[{mark}] {self.name}: {self.detail}"


async def check_database(settings: Settings) -> Check:
    engine = create_engine(settings.database.url)
    head = ScriptDirectory.from_config(alembic_config(settings.database.url)).get_current_head()
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    except Exception as exc:
        return Check("database", False, f"cannot connect ({type(exc).__name__}: {str(exc)[:120]})")
    finally:
        await engine.dispose()
    if current != head:
        hint = "run `python -m bot db upgrade`"
        return Check("database", False, f"schema at {current or 'empty'}, expected {head}: {hint}")
    return Check("database", True, f"reachable, schema at {head}")


async def check_telegram(settings: Settings) -> Check:
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError

    tg = settings.telegram
    if not tg.enabled:
        return Check("telegram", True, "not configured (console / WhatsApp only)", warning=True)
    assert tg.token is not None
    bot = Bot(tg.token.get_secret_value(), base_url=tg.base_url, base_file_url=tg.base_file_url)
    try:
        async with bot:
            me = await bot.get_me()
    except InvalidToken:
        return Check("telegram", False, "the token was rejected (telegram.token)")
    except (NetworkError, TelegramError) as exc:
        return Check("telegram", False, f"cannot reach the Bot API at {tg.base_url} ({type(exc).__name__})")
    detail = f"bot @{me.username}"
    if not tg.admin_ids:
        return Check("telegram", True, detail + "; no telegram.admin_ids configured", warning=True)
    return Check("telegram", True, detail)


async def check_twilio(settings: Settings) -> Check:
    wa = settings.whatsapp
    if not wa.enabled:
        return Check("whatsapp", True, "not configured", warning=True)
    assert wa.account_sid and wa.auth_token
    base = (wa.api_base_url or "https://api.twilio.com").rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            resp = await client.get(
                f"{base}/2010-04-01/Accounts/{wa.account_sid}.json",
                auth=(wa.account_sid, wa.auth_token.get_secret_value()),
            )
    except httpx.HTTPError as exc:
        return Check("whatsapp", False, f"cannot reach Twilio at {base} ({type(exc).__name__})")
    if resp.status_code in (401, 403):
        return Check("whatsapp", False, "Twilio rejected whatsapp.account_sid / whatsapp.auth_token")
    if resp.status_code >= 400:
        return Check("whatsapp", False, f"Twilio answered HTTP {resp.status_code}")
    if not wa.public_url:
        return Check("whatsapp", False, "credentials OK but whatsapp.public_url is not set (needed for signatures)")
    return Check("whatsapp", True, "credentials accepted")


def check_settings(settings: Settings) -> list[Check]:
    out = [Check("config", True, "valid")]
    real_channel = settings.telegram.enabled or settings.whatsapp.enabled
    if settings.using_dev_secret and real_channel:
        out.append(Check("security.secret_key", False, "not set: required for real channels (>= 32 random chars)"))
    elif settings.using_dev_secret:  # console-only: the built-in development key is acceptable there
        out.append(Check("security.secret_key", True,
                         "not set: fine for the console chat; required once a real channel is configured "
                         "(>= 32 random chars)", warning=True))
    else:
        out.append(Check("security.secret_key", True, "set"))
    if not settings.bawaslu_groups and not real_channel:
        out.append(Check("bawaslu_groups", True, "none configured: the console chat without a config file sends "
                         "every tip to its simulated group; real channels store tips unrouted", warning=True))
    elif not settings.bawaslu_groups:
        out.append(Check("bawaslu_groups", True, "none configured: tips are stored but not routed", warning=True))
    else:
        out.append(Check("bawaslu_groups", True, f"{len(settings.bawaslu_groups)} group(s) configured"))
    return out


async def run_doctor(settings: Settings) -> list[Check]:
    checks = check_settings(settings)
    checks.append(await check_database(settings))
    checks.append(await check_telegram(settings))
    checks.append(await check_twilio(settings))
    return checks
