"""Bad input: hypothesis-generated Telegram updates (and Twilio webhook posts) through the real handlers.

The Telegram updates go through exactly what python-telegram-bot does with a fetched update:
``Update.de_json`` → ``Application.process_update`` → our TypeHandler → ``to_incoming`` → ``Core.handle``.
Replies are left in the outbox (no sender) so the check "every private message got a reply" is a query.
A smaller share goes through the fake Telegram server end to end. Invariants: zero ERROR records from
our loggers (no "handler failed", no "telegram update failed"), a reply to every private text/media
message, a consistent database (no outbox row stuck in "sending", only known flow names, forged tip
buttons changed nothing).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from telegram import Update
from twilio.request_validator import RequestValidator

from bot.app.attach import whatsapp_webhook
from bot.app.runtime import Runtime
from bot.app.web import build_app
from bot.channels.telegram import TelegramChannel
from bot.core.clock import utcnow
from bot.storage.models import Conversation, Outbox, ProcessedUpdate, Tip, TipEvent
from tests.reliability import anon
from tests.reliability.conftest import ADMIN_ID, GROUPS, Audit, error_records, reliability_settings
from tests.support.fakes.telegram_server import (
    FakeTelegramServer,
    make_callback,
    make_document_message,
    make_message,
    make_my_chat_member,
    make_photo_message,
)

# Default: 400 batches x 25 updates = 10,000 updates (about a minute). JAGANETRAL_FUZZ_EXAMPLES raises it.
EXAMPLES = int(os.environ.get("JAGANETRAL_FUZZ_EXAMPLES", "400"))
BATCH = 25
_chat_ids = itertools.count(300_000_000)
_group_ids = itertools.count(-200_000_000, -1)

COMMANDS = ["/start", "/bantuan", "/help", "/tanya", "/lapor", "/status", "/hapus", "/langganan", "/berhenti",
            "/tahapan", "/siaran", "/jadwal", "/batal", "/statistik", "/ekspor", "/pertanyaan", "/xyz", "/",
            "/lapor@jaganetral_test_bot", "/start@other_bot", "/" + "a" * 300]
INJECTIONS = ["<b>tebal</b>", "<script>alert(1)</script>", "</code><a href='javascript:x'>", "*bold* _it_ `c`",
              "[link](http://x)", "&amp;&lt;", "=HYPERLINK(\"http://x\")", "@everyone", "\u202egnp.exe",
              "\x00\x01\x02\x1b[31m", "\ud7ff\ufffe\uffff", "🏳️‍🌈" * 50, "' OR 1=1 --", "${jndi:ldap://x}"]
CALLBACK_PREFIXES = ["lapor", "tip", "bc", "sub", "faq", "", "x", "lapor:r", "lapor:p", "lapor:c", "tip:st",
                     "tip:ask", "tip:ans", "bc:a", "bc:r", "sub:role", "sub:p", "faqgo", "faqq", "faqq:done"]
FLOW_STEPS = ["/lapor", "/lapor Kukar", "lapor:c:medsos", "lapor:skip", "lapor:done", "lapor:ok", "/langganan",
              "sub:role:asn", "/siaran", "bc:a:all", "bc:ok", "faqgo:lapor"]

text_st = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),  # incl. control characters, surrogates excluded
    st.sampled_from(INJECTIONS),
    st.builds(lambda c, a: f"{c} {a}", st.sampled_from(COMMANDS), st.text(max_size=60)),
    st.sampled_from(COMMANDS),
    st.sampled_from(["Kukar", "batal", "kembali", "selesai", "1", "2", "99", "asn", "sekarang", " ", ""]),
    st.builds(lambda n: "x" * n, st.just(100_000)),  # 100 KB (built, so reprs stay short)
    st.builds(lambda ch, n: ch * n, st.characters(), st.integers(4097, 20_000)),
)
callback_st = st.one_of(
    st.text(max_size=80),
    st.builds(lambda p, rest: f"{p}:{rest}", st.sampled_from(CALLBACK_PREFIXES), st.text(max_size=40)),
    st.builds(lambda n, k: f"tip:st:{n}:{k}", st.integers(-2, 5), st.integers(-1, 12)),  # forged status buttons
    st.builds(lambda n: f"tip:ask:{n}", st.integers(0, 3)),
    st.builds(lambda n: f"tip:ans:{n}", st.integers(0, 3)),
    st.sampled_from(FLOW_STEPS),
)


@st.composite
def update_st(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """(update JSON, whether a reply is due: a private message with text or media)."""
    kind = draw(st.sampled_from(["private", "private", "private", "group", "callback", "group_callback",
                                 "edited", "photo", "document", "my_chat_member", "sticker", "flow"]))
    uid = next(_chat_ids)
    names = {"username": anon.USERNAME, "first_name": anon.FIRST_NAME, "last_name": anon.LAST_NAME}
    if kind == "private":
        text = draw(text_st)
        return make_message(uid, uid, text, **names), bool(text)
    if kind == "flow":  # a few returning users walking through flows, with random input between the steps
        uid = 299_000_000 + draw(st.integers(0, 15))
        text = draw(st.one_of(st.sampled_from(FLOW_STEPS), text_st))
        if text in FLOW_STEPS and not text.startswith("/"):
            return make_callback(uid, uid, text, username=anon.USERNAME), False
        return make_message(uid, uid, text, **names), False  # earlier replies exist: not checked per update
    if kind == "group":
        gid = draw(st.sampled_from([next(_group_ids), next(_group_ids) * 1000]))
        return make_message(gid, uid, draw(text_st), **names), False
    if kind == "callback":
        return make_callback(uid, uid, draw(callback_st), username=anon.USERNAME), False
    if kind == "group_callback":
        return make_callback(next(_group_ids), uid, draw(callback_st), chat_type="supergroup"), False
    if kind == "edited":
        return make_message(uid, uid, draw(text_st), edited=True, message_id=5, **names), False
    if kind == "photo":
        caption = draw(st.one_of(st.none(), text_st.filter(lambda s: len(s) < 2000)))
        return make_photo_message(uid, uid, caption=caption, file_id=f"ph{uid}", **names), True
    if kind == "document":
        return make_document_message(uid, uid, file_id=f"doc{uid}", file_name=draw(st.text(max_size=40)) or "x",
                                     **names), True
    if kind == "sticker":
        return make_message(uid, uid, None, extra={"sticker": {"file_id": "s", "file_unique_id": "s", "width": 1,
                                                                "height": 1, "type": "regular",
                                                                "is_animated": False, "is_video": False}},
                            **names), True
    chat = draw(st.sampled_from([next(_group_ids), uid]))
    status = draw(st.sampled_from(["member", "administrator", "left", "kicked"]))
    return make_my_chat_member(chat, uid, status), False


def draw_samples(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` deterministic samples of a strategy (for the end-to-end variants, which run once)."""
    out: list[Any] = []

    @settings(max_examples=n, database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out[:n]


class Fuzzer:
    def __init__(self, rt: Runtime, channel: TelegramChannel) -> None:
        self.rt, self.channel = rt, channel
        self.updates = 0
        self.replies_due = 0

    async def feed(self, batch: list[tuple[dict[str, Any], bool]]) -> None:
        for data, _due in batch:
            await self.channel.app.process_update(Update.de_json(data, self.channel.bot))
        self.updates += len(batch)
        due = [d for d, want in batch if want]
        if not due:
            return
        ident = self.rt.services.identity
        keys = {ident.key("addr", "telegram", str(d["message"]["chat"]["id"])): d for d in due}
        async with self.rt.services.sessions() as s:
            answered = set((await s.scalars(select(Outbox.addr_key).where(Outbox.addr_key.in_(list(keys))))).all())
        missing = [keys[k] for k in keys if k not in answered]
        assert not missing, f"no reply to {str(missing[0])[:300]}"
        self.replies_due += len(due)


async def _seed_tip(rt: Runtime) -> int:
    now = utcnow()
    async with rt.services.sessions() as s, s.begin():
        tip = Tip(code="JN-AAAA-BBBB", region_code="64.02", category="medsos", who="", place_time="", description="x",
                  links=[], status="diterima", channel="telegram", reporter_key="k" * 64,
                  reply_enc=rt.services.identity.seal("telegram", str(anon.REPORTER_ID)),
                  group_chat_id=GROUPS["64.02"], created_at=now, updated_at=now)
        s.add(tip)
        await s.flush()
        s.add(TipEvent(tip_id=tip.id, kind="status", text="diterima", created_at=now))
        return int(tip.id)


def test_fuzzed_updates_through_ptb(
    make_settings: Any, db_url: str, caplog: pytest.LogCaptureFixture, audit: Audit
) -> None:
    # The full 10,000 updates run on SQLite; PostgreSQL gets a fifth (same generator, derandomised: the
    # first batches are identical) to keep the suite short while still covering PostgreSQL-only failures.
    examples = EXAMPLES if db_url.startswith("sqlite") else max(1, EXAMPLES // 5)
    loop = asyncio.new_event_loop()
    server = FakeTelegramServer()
    audit.servers.append(server)
    loop.run_until_complete(server.start())
    rt = Runtime.create(reliability_settings(make_settings, server))
    channel = TelegramChannel(rt.settings, rt.core.handle)
    rt.services.media_fetchers["telegram"] = channel.fetch_media
    loop.run_until_complete(channel.app.initialize())
    tip_id = loop.run_until_complete(_seed_tip(rt))
    fuzzer = Fuzzer(rt, channel)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(update_st(), min_size=BATCH, max_size=BATCH))
    def run(batch: list[tuple[dict[str, Any], bool]]) -> None:
        loop.run_until_complete(fuzzer.feed(batch))

    try:
        run()
        flows = set(rt.core.router._flows)
        facts = loop.run_until_complete(_db_facts(rt, tip_id))
    finally:
        loop.run_until_complete(channel.app.shutdown())
        loop.run_until_complete(rt.stop())
        loop.run_until_complete(server.stop())
        loop.close()
    print({"updates": fuzzer.updates, "replies_checked": fuzzer.replies_due, **facts})
    assert fuzzer.updates >= examples * BATCH
    assert [r.getMessage() for r in error_records(caplog)] == []
    assert facts["outbox_sending"] == 0
    assert set(facts["flows"]) <= flows
    assert facts["tip_status"] == "diterima" and facts["tip_events"] == 1  # forged buttons changed nothing
    assert facts["processed_updates"] <= fuzzer.updates
    assert facts["tips"] == 1  # no tip completed by random input without its steps (seeded one only)


async def _db_facts(rt: Runtime, tip_id: int) -> dict[str, Any]:
    async with rt.services.sessions() as s:
        tip = await s.get(Tip, tip_id)
        return {
            "outbox_rows": int(await s.scalar(select(func.count()).select_from(Outbox)) or 0),
            "outbox_sending": int(await s.scalar(select(func.count()).select_from(Outbox)
                                                 .where(Outbox.status == "sending")) or 0),
            "flows": sorted({f for f in (await s.scalars(select(Conversation.flow))).all() if f is not None}),
            "tip_status": tip.status if tip else None,
            "tip_events": int(await s.scalar(select(func.count()).select_from(TipEvent)
                                             .where(TipEvent.tip_id == tip_id)) or 0),
            "processed_updates": int(await s.scalar(select(func.count()).select_from(ProcessedUpdate)) or 0),
            "tips": int(await s.scalar(select(func.count()).select_from(Tip)) or 0),
        }


async def test_fuzzed_updates_through_the_fake_server(make_settings: Any, tg_server: FakeTelegramServer,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A smaller share end to end: long polling, real HTTP, replies sent (and audited for identifiers)."""
    from tests.support.telegram_harness import TelegramHarness

    harness = TelegramHarness(reliability_settings(make_settings, tg_server), tg_server)
    await harness.start()
    try:
        batch = draw_samples(update_st(), 300)
        due = []
        for data, want in batch:
            tg_server.inject_update(data)
            if want:
                due.append(data["message"]["chat"]["id"])
        for chat in due:
            await tg_server.wait_for(lambda c, ch=chat: c.chat_id == ch and c.method.startswith("send"), timeout=30)
    finally:
        await harness.stop()
    assert [r.getMessage() for r in error_records(caplog)] == []
    assert not tg_server.pending_updates  # everything was fetched and confirmed


async def test_fuzzed_twilio_webhook_posts(make_settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    auth, url = "twilio-auth-token-0123456789abcdef", "https://contoh.invalid"
    rt = Runtime.create(make_settings(whatsapp={"account_sid": "AC" + "0" * 32, "auth_token": auth,
                                                "sender": "whatsapp:+14155238886", "public_url": url,
                                                "admin_numbers": []}))
    app = build_app(rt, None, whatsapp_webhook(rt).routes())
    validator = RequestValidator(auth)
    form = st.fixed_dictionaries(
        {"From": st.sampled_from([f"whatsapp:{anon.WHATSAPP_NUMBER}", "whatsapp:+62800", "sms:+1", ""]),
         "Body": text_st.filter(lambda s: len(s) < 30_000)},
        optional={"NumMedia": st.sampled_from(["0", "1", "11", "-1", "x"]),
                  "MediaUrl0": st.text(max_size=30), "MediaContentType0": st.sampled_from(["image/jpeg", "x", ""]),
                  "ButtonPayload": callback_st, "MessageSid": st.text(max_size=40)},
    )
    samples = draw_samples(form, 150)
    codes: list[int] = []
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            for params in samples:
                params = {k: v.replace("\x00", "") for k, v in params.items()}
                sig = validator.compute_signature(url + "/whatsapp", params)
                resp = await client.post("/whatsapp", data=params, headers={"X-Twilio-Signature": sig})
                codes.append(resp.status_code)
            raw = await client.post("/whatsapp", content=b"\xff\xfe%%%", headers={"X-Twilio-Signature": "x"})
    finally:
        await rt.stop()
    assert set(codes) <= {200, 400, 413}  # 413: over the 64 KB body limit
    assert codes.count(200) >= 50
    assert raw.status_code in (400, 403)
    assert [r.getMessage() for r in error_records(caplog)] == []


async def test_fuzzer_findings_are_handled(make_settings: Any, tg_server: FakeTelegramServer,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """Regressions found by the fuzzer: "/ halo" (IndexError in ``Incoming.command``); "¹" passes
    ``str.isdigit()`` but not ``int()`` (ValueError in button and number parsing); NUL characters cannot be
    stored by PostgreSQL (every update carrying one failed there)."""
    rt = Runtime.create(reliability_settings(make_settings, tg_server))
    channel = TelegramChannel(rt.settings, rt.core.handle)
    await channel.app.initialize()
    fuzzer = Fuzzer(rt, channel)
    uid = itertools.count(310_000_001)
    try:
        batch = [(make_message(u, u, text), True) for u, text in (
            (next(uid), "/ "), (next(uid), "/\nhalo"), (next(uid), "/ lapor"), (next(uid), "/"),
            (next(uid), "halo\x00dunia"), (next(uid), "/tanya boleh\x00kah"), (ADMIN_ID, "/batal ¹"),
        )]
        group = next(_group_ids)
        batch += [(make_callback(next(uid), 1, data), False) for data in
                  ("tip:st:¹:0", "tip:ask:²", "lapor:pp:¹", "sub:pp:³", "sub:kp:64:¹", "x\x00y")]
        batch += [(make_callback(group, 2, "tip:st:1:¹", chat_type="supergroup"), False)]
        # a user in the middle of /lapor and /langganan pressing page buttons with superscript digits
        for start, press in (("/lapor", "lapor:pp:¹"), ("/langganan", "sub:pp:¹")):
            u = next(uid)
            batch += [(make_message(u, u, start), True), (make_callback(u, u, press), False)]
        await fuzzer.feed(batch)
    finally:
        await channel.app.shutdown()
        await rt.stop()
    assert [r.getMessage() for r in error_records(caplog)] == []
