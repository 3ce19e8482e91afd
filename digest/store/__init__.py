"""The database: the only package that imports sqlmodel.

SQLite by default (a file in the working folder); PostgreSQL through a database URL.
"""

from .bounces import BounceStore
from .delivery import DeliveryStore, SendCounts
from .stories import StoryStore
from .subscribers import SubscriberStore
from .web import WebStore


class Store(StoryStore, SubscriberStore, DeliveryStore, WebStore, BounceStore):
    """Stories, digests, subscribers and deliveries."""


__all__ = ["SendCounts", "Store"]
