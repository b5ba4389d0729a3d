"""What users do, independent of the channel. ``build_router()`` wires every handler module."""

from __future__ import annotations

from bot.core.router import Router


def build_router() -> Router:
    from handlers import faq, start

    router = Router()
    router.command("start", start.start, where="any")
    router.command("bantuan", start.help_, where="any")
    router.command("help", start.help_, where="any")
    router.command("tanya", faq.ask_command)
    router.command("pertanyaan", faq.unanswered_list, admin=True)
    router.callback("faq", faq.entry_button)
    router.fallback(faq.free_text)
    for module in _feature_modules():
        module.register(router)
    return router


def _feature_modules() -> list:  # type: ignore[type-arg]
    """Feature modules with a ``register(router)`` function (tips, subscriptions, admin …)."""
    import importlib

    found = []
    for name in ("handlers.tips", "handlers.subscriptions", "handlers.broadcast_admin", "handlers.group"):
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return found
