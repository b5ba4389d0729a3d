"""The tip feature: anonymous violation tips from the public to the Bawaslu group of their region.

flow.py (/lapor steps) → submit.py (store, strip evidence, queue for the group) → messages.py (what the group
sees); status.py (/status, /hapus); group.py (status buttons, /statistik, /ekspor); relay.py ("tanya
pelapor" and /jawab); cases.py (statuses, labels, routing, who may act); codes.py (receipt codes);
evidence.py (metadata stripping, links); store.py (every query of the feature).
"""

from __future__ import annotations

from bot.core.router import Router
from handlers.tips import evidence_fetch, flow, group, relay, status


def register(router: Router) -> None:
    router.command("lapor", flow.lapor)
    router.command("status", status.status)
    router.command("hapus", status.hapus)
    router.command("jawab", relay.answer_command)
    router.callback("lapor", flow.on_button)
    router.prepare("lapor:ok", evidence_fetch.prefetch_tip_evidence)  # fetched and stripped before the transaction
    router.callback(status.HAPUS_CB.prefix, status.hapus_button)
    router.flow(flow.FLOW, flow.on_text, cancel=flow.cancel)
    router.flow(relay.ANSWER_FLOW, relay.answer_text, cancel=relay.answer_cancel)
    router.callback("tip", group.on_tip_button)
    router.flow(relay.ASK_FLOW, relay.ask_text, cancel=relay.ask_cancel, transient=True, keeps=relay.ASK_BUTTONS)
    router.command("kasus", group.kasus, where="group")
    router.command("statistik", group.statistik, where="group")
    router.command("ekspor", group.ekspor, where="group")
