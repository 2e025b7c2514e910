"""Delivery: the outbox in Redis (``outbox``), shared rate limits (``limits``) and the workers (``worker``)."""

from bots.delivery.outbox import Entry, Outbox, destination
from bots.delivery.worker import Delivery, DeliveryOptions

__all__ = ["Delivery", "DeliveryOptions", "Entry", "Outbox", "destination"]
