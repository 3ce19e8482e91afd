"""The database: the only package that imports sqlmodel.

SQLite by default (a file in the working folder); PostgreSQL through a database URL. One
module per kind of data: stories (and their files), digests, subscribers, deliveries (sends
and their claims), approvals, bounces, editor accounts and sessions, rate-limit events.
"""

from .api_tokens import ApiTokenStore
from .approvals import APPROVAL_STATES, ApprovalStore
from .bounces import BounceStore
from .delivery import DeliveryStore, SendCounts
from .digests import DigestStore
from .directory import DirectoryStore
from .editors import EditorStore
from .edits import EditStore
from .keywords import KeywordStore
from .progress import ProgressStore
from .rate_events import RateEventStore
from .search import SearchStore
from .sessions import SessionStore
from .sources import SourceStore
from .stories import Outcome, Refused, StoryStore
from .subscribers import SubscriberStore
from .webhooks import WebhookStore


class Store(
    StoryStore,
    DigestStore,
    EditStore,
    SubscriberStore,
    DeliveryStore,
    ApprovalStore,
    ProgressStore,
    BounceStore,
    SessionStore,
    SourceStore,
    EditorStore,
    RateEventStore,
    KeywordStore,
    SearchStore,
    DirectoryStore,
    ApiTokenStore,
    WebhookStore,
):
    """Stories, digests, subscribers, deliveries and approvals; the web side's editor
    accounts, sessions and limits."""


__all__ = ["APPROVAL_STATES", "Outcome", "Refused", "SendCounts", "Store"]
