"""Connect channel adapters to a runtime: inbound handling, media fetchers and outbound senders."""

from __future__ import annotations

import logging

from starlette.routing import Route

from bot.app.runtime import Runtime
from bot.channels.telegram import TelegramChannel, TelegramSender
from bot.channels.twilio_client import TwilioSender
from bot.channels.whatsapp import WhatsAppSender, WhatsAppWebhook, status_callback_url

log = logging.getLogger(__name__)


def attach_telegram(rt: Runtime) -> TelegramChannel:
    """Connect a Telegram channel to a runtime: inbound updates, media fetcher and outbound sender."""
    channel = TelegramChannel(rt.settings, rt.core.handle)
    rt.services.media_fetchers["telegram"] = channel.fetch_media
    rt.add_sender(TelegramSender(channel.bot, rt.services.load_media))
    return channel


async def attach_whatsapp(rt: Runtime) -> tuple[TwilioSender, list[Route]]:
    """Connect WhatsApp (Twilio) to a runtime: sender, media fetcher, webhook routes.

    Call inside the running event loop; the caller mounts the routes (``bot.app.web.build_app``) and must
    ``await twilio.close()`` on shutdown.
    """
    wa = rt.settings.whatsapp
    if not wa.enabled or wa.account_sid is None or wa.auth_token is None:
        raise ValueError("whatsapp is not configured (account_sid, auth_token, sender)")
    if not wa.public_url:
        log.warning("whatsapp.public_url is not set: signatures are checked against the local URL "
                    "(fails behind a proxy) and no status callbacks are requested")
    twilio = TwilioSender(
        wa.account_sid,
        wa.auth_token.get_secret_value(),
        api_base_url=wa.api_base_url,
        status_callback_url=status_callback_url(rt.settings),
    )
    await twilio.start()
    rt.add_sender(WhatsAppSender(rt.settings, twilio, rt.services.sessions))
    rt.services.media_fetchers["whatsapp"] = twilio.download_media
    return twilio, whatsapp_webhook(rt, twilio).routes()


def whatsapp_webhook(rt: Runtime, twilio: TwilioSender | None = None) -> WhatsAppWebhook:
    """The WhatsApp webhook routes' handler, wired to a runtime's core, database and delivery loop."""
    return WhatsAppWebhook(rt.settings, rt.core.handle, rt.services.sessions, rt.worker.notify, twilio)
