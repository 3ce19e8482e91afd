"""The database: the only package that imports sqlmodel.

SQLite by default (a file in the working folder); PostgreSQL through a database URL. One
module per kind of data: stories (and their files), digests, subscribers, deliveries (sends
and their claims), bounces.
"""

from .bounces import BounceStore
from .delivery import DeliveryStore, SendCounts
from .digests import DigestStore
from .stories import StoryStore
from .subscribers import SubscriberStore


class Store(StoryStore, DigestStore, SubscriberStore, DeliveryStore, BounceStore):
    """Stories, digests, subscribers and deliveries."""


__all__ = ["SendCounts", "Store"]
