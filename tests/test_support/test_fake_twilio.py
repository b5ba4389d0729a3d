"""The fake Twilio server driven by the real TwilioSender (real twilio client, real HTTP on 127.0.0.1)."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import httpx
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.channels.twilio_client import (
    MediaDownloadError,
    MediaTooLarge,
    RoutedAsyncHttpClient,
    SendOutcome,
    TwilioSender,
    redact,
)
from tests.support.fakes.twilio_server import (
    DEFAULT_SENDER,
    FORGERIES,
    FakeTwilioServer,
    build_forged_inbound,
    build_inbound,
    post_forged_inbound,
    post_inbound,
)

NUMBER = "+6281234567890"
SENDER = DEFAULT_SENDER


@pytest.fixture
async def server() -> AsyncIterator[FakeTwilioServer]:
    async with FakeTwilioServer() as srv:
        yield srv


@pytest.fixture
async def sender(server: FakeTwilioServer) -> AsyncIterator[TwilioSender]:
    s = TwilioSender(server.account_sid, server.auth_token, api_base_url=server.url,
                     status_callback_url="https://bot.example.org/whatsapp/status", timeout=3)
    await s.start()
    yield s
    await s.close()


@dataclass
class Receiver:
    """A tiny webhook receiver that checks Twilio signatures against ``public_url`` + path."""

    auth_token: str
    public_url: str = ""
    received: list[tuple[str, dict[str, str], bool]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        signed_url = (self.public_url + request.path) if self.public_url else str(request.url)
        ok = RequestValidator(self.auth_token).validate(
            signed_url, params, request.headers.get("X-Twilio-Signature", ""))
        self.received.append((request.path, params, ok))
        return web.Response(status=200 if ok else 403, text="ok" if ok else "forbidden")


@pytest.fixture
async def receiver(server: FakeTwilioServer) -> AsyncIterator[Receiver]:
    rec = Receiver(server.auth_token)
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}"
    yield rec
    await runner.cleanup()


# --- sending -------------------------------------------------------------------------------------

async def test_send_text_is_recorded_with_whatsapp_prefix_and_callback(
        server: FakeTwilioServer, sender: TwilioSender) -> None:
    outcome = await sender.send_text(NUMBER, SENDER, "Halo ASN")
    assert outcome.ok and outcome.status == 201 and outcome.code is None
    assert outcome.sid is not None and outcome.sid.startswith("SM") and len(outcome.sid) == 34
    msg = await server.wait_for(lambda m: m.sid == outcome.sid, timeout=2)
    assert (msg.to, msg.from_, msg.body) == (f"whatsapp:{NUMBER}", SENDER, "Halo ASN")
    assert msg.status_callback == "https://bot.example.org/whatsapp/status"
    assert msg.media_urls == [] and msg.content_sid is None


async def test_send_text_with_media_repeats_media_url(server: FakeTwilioServer, sender: TwilioSender) -> None:
    urls = ["https://files.example.org/a.png", "https://files.example.org/b.pdf"]
    outcome = await sender.send_text(NUMBER, SENDER, "Lampiran", media_urls=urls)
    assert outcome.ok and outcome.sid is not None and outcome.sid.startswith("MM")
    msg = server.message(outcome.sid)
    assert msg is not None and msg.media_urls == urls and msg.form["MediaUrl"] == urls


async def test_send_template_records_content_sid_and_variables(
        server: FakeTwilioServer, sender: TwilioSender) -> None:
    outcome = await sender.send_template(NUMBER, SENDER, "HX" + "a" * 32, {"1": "Pemungutan suara", "2": "14 Feb"})
    assert outcome.ok
    msg = await server.wait_for(lambda m: m.content_sid is not None)
    assert msg.content_sid == "HX" + "a" * 32
    assert msg.content_variables == {"1": "Pemungutan suara", "2": "14 Feb"}
    assert msg.body is None and "Body" not in msg.form


async def test_wrong_auth_token_gives_401_20003(server: FakeTwilioServer) -> None:
    bad = TwilioSender(server.account_sid, "0" * 32, api_base_url=server.url)
    await bad.start()
    try:
        outcome = await bad.send_text(NUMBER, SENDER, "x")
    finally:
        await bad.close()
    assert not outcome.ok and outcome.status == 401 and outcome.code == 20003 and outcome.sid is None
    assert server.messages == [] and server.requests[-1].authorized is False


async def test_rate_limited_send_reports_20429_and_retry_after(
        server: FakeTwilioServer, sender: TwilioSender) -> None:
    server.rate_limit_next(1, retry_after=2)
    outcome = await sender.send_text(NUMBER, SENDER, "x")
    assert outcome == SendOutcome(False, None, 429, 20429, outcome.message, 2.0)
    assert "20429" in outcome.message
    assert (await sender.send_text(NUMBER, SENDER, "x")).ok  # fault consumed


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503)])
async def test_server_errors_are_not_ok_and_not_retried_inside_twilio(
        server: FakeTwilioServer, sender: TwilioSender, status: int, code: int) -> None:
    server.fail_next(1, status=status)
    outcome = await sender.send_text(NUMBER, SENDER, "x")
    assert not outcome.ok and outcome.status == status and outcome.code == code
    # exactly one HTTP attempt: retrying is the outbox's job (no aiohttp-retry behind our back)
    assert len(server.requests) == 1 and server.messages == []


async def test_rejection_message_and_logs_never_contain_the_number(
        server: FakeTwilioServer, sender: TwilioSender, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.reject_next(1, code=21211)  # Twilio's 21211 text quotes the 'To' number
    outcome = await sender.send_text(NUMBER, SENDER, "x")
    assert not outcome.ok and outcome.status == 400 and outcome.code == 21211
    assert server.requests[-1].code == 21211
    assert "valid phone number" in outcome.message
    digits = NUMBER.lstrip("+")
    assert digits not in outcome.message and digits[3:] not in outcome.message
    assert digits not in caplog.text and "twilio send failed" in caplog.text


@pytest.mark.parametrize("problem_details", [False, True])
async def test_window_closed_63016(server: FakeTwilioServer, sender: TwilioSender, problem_details: bool) -> None:
    server.reject_next(1, code=63016, problem_details=problem_details)
    outcome = await sender.send_text(NUMBER, SENDER, "x")
    assert (outcome.ok, outcome.status, outcome.code) == (False, 400, 63016)
    assert "outside the allowed window" in outcome.message


async def test_recipient_error_persists_for_that_recipient_only(
        server: FakeTwilioServer, sender: TwilioSender) -> None:
    server.set_recipient_error(NUMBER, code=21610)
    for _ in range(2):
        assert (await sender.send_text(NUMBER, SENDER, "x")).code == 21610
    assert (await sender.send_text("+6289999999999", SENDER, "x")).ok
    server.clear_faults()
    assert (await sender.send_text(NUMBER, SENDER, "x")).ok


async def test_outage_then_recovery_on_same_port(server: FakeTwilioServer, sender: TwilioSender) -> None:
    port = server.port
    await server.stop()
    down = await sender.send_text(NUMBER, SENDER, "x")
    assert not down.ok and down.status is None and down.code is None and "network error" in down.message
    await server.start()
    assert server.port == port
    assert (await sender.send_text(NUMBER, SENDER, "x")).ok


async def test_dropped_connection_and_timeout(server: FakeTwilioServer) -> None:
    s = TwilioSender(server.account_sid, server.auth_token, api_base_url=server.url, timeout=0.3)
    await s.start()
    try:
        server.drop_next(1)
        dropped = await s.send_text(NUMBER, SENDER, "x")
        assert not dropped.ok and dropped.status is None and "network error" in dropped.message
        server.set_latency(1.0)
        slow = await s.send_text(NUMBER, SENDER, "x")
        assert not slow.ok and slow.status is None and "timeout" in slow.message
    finally:
        await s.close()


@pytest.mark.parametrize(("to", "from_", "code"), [
    ("whatsapp:+6281234567890", "+14155238886", 21910),  # channel mismatch
    ("whatsapp:not-a-number", SENDER, 21211),
])
async def test_fake_validates_like_twilio(server: FakeTwilioServer, sender: TwilioSender,
                                          to: str, from_: str, code: int) -> None:
    outcome = await sender.send_text(to, from_, "x")
    assert (outcome.ok, outcome.status, outcome.code) == (False, 400, code)


async def test_body_too_long_and_send_before_start(server: FakeTwilioServer, sender: TwilioSender) -> None:
    assert (await sender.send_text(NUMBER, SENDER, "x" * 1601)).code == 21617
    with pytest.raises(RuntimeError):
        await TwilioSender("AC1", "t").send_text(NUMBER, SENDER, "x")


async def test_account_endpoint_and_unknown_paths(server: FakeTwilioServer) -> None:
    account_url = f"{server.url}/2010-04-01/Accounts/{server.account_sid}.json"
    async with httpx.AsyncClient() as client:
        ok = await client.get(account_url, auth=(server.account_sid, server.auth_token))
        denied = await client.get(account_url, auth=(server.account_sid, "nope"))
        missing = await client.get(f"{server.url}/2010-04-01/Nothing.json")
    assert ok.status_code == 200 and ok.json()["sid"] == server.account_sid
    assert denied.status_code == 401 and denied.json()["code"] == 20003
    assert missing.status_code == 404 and missing.json()["code"] == 20404
    assert set(missing.json()) == {"code", "message", "more_info", "status"}


def test_rewrite_points_every_twilio_host_at_the_base_url() -> None:
    http = RoutedAsyncHttpClient.__new__(RoutedAsyncHttpClient)  # no aiohttp session needed for rewrite()
    http.api_base_url = "http://127.0.0.1:9/prefix"
    assert http.rewrite("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?a=1") == \
        "http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC1/Messages.json?a=1"
    assert http.rewrite("https://api.sydney.au1.twilio.com/x").startswith("http://127.0.0.1:9/prefix/x")
    assert http.rewrite("https://example.org/x") == "https://example.org/x"
    http.api_base_url = None
    assert http.rewrite("https://api.twilio.com/x") == "https://api.twilio.com/x"


def test_redact_removes_numbers_and_addresses() -> None:
    text = redact("The 'To' number whatsapp:+62 812-3456-7890 / 6281234567890 is not valid (code 21211)")
    assert "812" not in text and "6281234567890" not in text and "21211" in text


# --- media ---------------------------------------------------------------------------------------

async def test_media_download_follows_redirect_without_leaking_credentials(
        server: FakeTwilioServer, sender: TwilioSender) -> None:
    content = b"\x89PNG\r\n\x1a\n" + b"x" * 5000
    url = server.add_media(content, "image/png")
    data, ctype = await sender.download_media(url)
    assert (data, ctype) == (content, "image/png")
    assert [(f.kind, f.status, f.had_auth) for f in server.media_fetches] == [("media", 307, True),
                                                                           ("cdn", 200, False)]


async def test_media_download_errors(server: FakeTwilioServer, sender: TwilioSender) -> None:
    url = server.add_media(b"y" * 2048, "application/pdf")
    with pytest.raises(MediaTooLarge):
        await sender.download_media(url, max_bytes=1024)
    bad = TwilioSender(server.account_sid, "0" * 32, api_base_url=server.url)
    await bad.start()
    try:
        with pytest.raises(MediaDownloadError, match="401"):
            await bad.download_media(url)
    finally:
        await bad.close()
    with pytest.raises(MediaDownloadError, match="404"):
        await sender.download_media(url.rsplit("/", 1)[0] + "/ME" + "0" * 32)
    fetches = len(server.media_fetches)
    with pytest.raises(MediaDownloadError, match="not on the Twilio API host"):
        await sender.download_media("http://169.254.169.254/latest/meta-data")
    assert len(server.media_fetches) == fetches


async def test_media_without_auth_is_refused_by_fake(server: FakeTwilioServer) -> None:
    url = server.add_media(b"z", "image/jpeg")
    async with aiohttp.ClientSession() as session, session.get(url, allow_redirects=False) as resp:
        assert resp.status == 401
        assert (await resp.json())["code"] == 20003


# --- signed webhooks -----------------------------------------------------------------------------

def test_build_inbound_is_signed_and_realistic() -> None:
    url = "https://bot.example.org/whatsapp"
    params, headers = build_inbound(url, "tok", body="Apakah boleh?", media=[("https://m/1", "image/jpeg")],
                                    profile_name="Sari")
    assert RequestValidator("tok").validate(url, params, headers["X-Twilio-Signature"])
    assert not RequestValidator("other").validate(url, params, headers["X-Twilio-Signature"])
    assert params["MessageSid"].startswith("MM") and len(params["MessageSid"]) == 34
    assert params["MessageSid"] == params["SmsMessageSid"] == params["SmsSid"]
    assert (params["NumMedia"], params["MediaUrl0"], params["MediaContentType0"]) == ("1", "https://m/1",
                                                                                     "image/jpeg")
    assert (params["WaId"], params["ProfileName"], params["MessageType"]) == ("6281234567890", "Sari", "image")
    assert params["From"].startswith("whatsapp:+") and params["ApiVersion"] == "2010-04-01"


@pytest.mark.parametrize("how", FORGERIES)
def test_forged_inbound_does_not_validate(how: str) -> None:
    url = "https://bot.example.org/whatsapp"
    params, headers = build_forged_inbound(url, "tok", how=how)
    assert not RequestValidator("tok").validate(url, params, headers.get("X-Twilio-Signature", ""))


async def test_inbound_posts_over_http_behind_a_proxy(receiver: Receiver) -> None:
    receiver.public_url = "https://bot.example.org"
    public = "https://bot.example.org/whatsapp"
    good = await post_inbound(public, receiver.auth_token, via=receiver.url + "/whatsapp", body="Halo")
    assert good.status_code == 200
    forged = await post_forged_inbound(public, receiver.auth_token, how="tampered", via=receiver.url + "/whatsapp")
    assert forged.status_code == 403
    assert [(path, ok) for path, _, ok in receiver.received] == [("/whatsapp", True), ("/whatsapp", False)]
    assert receiver.received[0][1]["Body"] == "Halo"


async def test_status_callback_is_signed_and_updates_the_record(
        server: FakeTwilioServer, sender: TwilioSender, receiver: Receiver) -> None:
    outcome = await sender.send_text(NUMBER, SENDER, "x")
    assert outcome.sid is not None
    async with httpx.AsyncClient() as client:
        resp = await server.send_status_callback(receiver.url + "/whatsapp/status", outcome.sid, "undelivered",
                                                 error_code=63016, client=client)
    assert resp.status_code == 200
    path, params, ok = receiver.received[-1]
    assert ok and path == "/whatsapp/status"
    assert (params["MessageSid"], params["MessageStatus"], params["ErrorCode"]) == (outcome.sid, "undelivered",
                                                                                    "63016")
    assert params["To"] == f"whatsapp:{NUMBER}" and params["ChannelPrefix"] == "whatsapp"
    msg = server.message(outcome.sid)
    assert msg is not None and msg.status_history == ["queued", "undelivered"]
    wrong = await server.send_status_callback(receiver.url + "/whatsapp/status", outcome.sid, "read",
                                              auth_token="f" * 32)
    assert wrong.status_code == 403 and receiver.received[-1][2] is False


async def test_restart_keeps_port_even_when_it_was_random() -> None:
    srv = FakeTwilioServer()
    await srv.start()
    port = srv.port
    await srv.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # really down
    await srv.start()
    try:
        assert srv.port == port and srv.running
    finally:
        await srv.stop()


# --- contract with the WhatsApp channel's outcome mapping ------------------------------------------

@pytest.mark.parametrize(("inject", "expected"), [
    (lambda s: None, "sent"),
    (lambda s: s.rate_limit_next(1, retry_after=3), "retry"),
    (lambda s: s.fail_next(1, status=503), "retry"),
    (lambda s: s.drop_next(1), "retry"),
    (lambda s: s.reject_next(1, code=21610), "blocked"),
    (lambda s: s.reject_next(1, code=63016), "failed"),
    (lambda s: s.reject_next(1, code=21211), "failed"),
])
async def test_outcomes_map_to_outbox_results(server: FakeTwilioServer, sender: TwilioSender,
                                              inject: Callable[[FakeTwilioServer], object], expected: str) -> None:
    from bot.channels.whatsapp import WhatsAppSender

    inject(server)
    result = WhatsAppSender._result(await sender.send_text(NUMBER, SENDER, "x"))
    assert result.status == expected
    if expected == "retry" and server.requests[-1].status == 429:
        assert result.retry_after == 3.0
