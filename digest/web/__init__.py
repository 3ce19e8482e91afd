"""The web side (`digest serve`): the public archive and feed, the subscriber's unsubscribe,
preferences and subscribe pages, and the editor's preview and test copies."""

from .app import create_app

__all__ = ["create_app"]
