"""What users do, independent of the channel. ``build_router()`` wires every handler module."""

from __future__ import annotations

from bot.core.router import Router


def build_router() -> Router:
    from handlers import broadcast_admin, faq, start, subscriptions, tips

    router = Router()
    router.command("start", start.start, where="any")
    router.command("bantuan", start.help_, where="any")
    router.command("help", start.help_, where="any")
    router.command("tanya", faq.ask_command)
    router.command("pertanyaan", faq.unanswered_list, admin=True)
    router.callback(faq.ENTRY_CB.prefix, faq.entry_button)
    router.callback(faq.ACTION_CB.prefix, faq.action_button)
    router.callback(faq.FAQQ_CB.prefix, faq.unanswered_button)
    tips.relay.route_answers(router, faq.free_text)  # a reply to, or text typed after, Bawaslu's question
    for module in (tips, subscriptions, broadcast_admin):
        module.register(router)
    return router
