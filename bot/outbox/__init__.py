"""Durable outbound messaging used by every feature: the port adapters implement, the outbox store,
the delivery loop and the rate limiter."""
