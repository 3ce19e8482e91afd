"""The outgoing side, built once from the config: the message templates, the DKIM signer, the
envelope sender and the transport. The list send, its dry run, the preview, the editor's test
copy and the confirmation email all take them from here, so they cannot drift apart: what an
editor previews is signed and addressed exactly as what subscribers get.
"""

from __future__ import annotations

from functools import cached_property

from ..config import Config, secret_for
from ..model import Digest
from ..render import Renderer
from .dkim import Signer, load_signers, sign_message
from .envelope import SenderFor, fixed_sender, return_path_for
from .outbox import OutboxTransport
from .smtp import SMTPSettings, SMTPTransport
from .transport import Transport
from .variants import Variants


class Outgoing:
    """What every outgoing message needs, with the DKIM key loaded once."""

    def __init__(self, config: Config, transport_name: str | None = None) -> None:
        """Loads the DKIM keys (a bad one is refused here, before anything is sent)."""
        self.config = config
        self.transport_name = transport_name or config.default_transport  # "smtp" or "outbox"
        self.signers: tuple[Signer, ...] = load_signers(config)  # RSA first

    @cached_property
    def secret(self) -> str:
        """The key that signs every link (and VERP tag); required for SMTP. Looked up only
        by what needs it: a preview carries placeholder links and needs none."""
        return secret_for(self.config, self.transport_name)

    def variants(self, digest: Digest, renderer: Renderer | None = None) -> Variants:
        """The message templates for a digest, one per choice of sections, each made once."""
        return Variants(self.config, digest, renderer)

    def sign(self, message: bytes) -> bytes:
        """The message DKIM-signed, once per configured key; unchanged without one."""
        return sign_message(self.signers, message)

    def sender_for(self) -> SenderFor:
        """The envelope sender per (subscriber id, date): VERP under bounce_address."""
        return return_path_for(self.config, self.secret)

    @property
    def fixed_sender(self) -> str:
        """The envelope sender of one-off messages (test copies, confirmations)."""
        return fixed_sender(self.config)

    def transport(self, folder: str, concurrency: int = 1) -> Transport:
        """SMTP with `concurrency` connections, or the outbox folder outbox/<folder>/."""
        if self.transport_name == "outbox":
            return OutboxTransport(self.config.outbox / folder)
        return SMTPTransport(SMTPSettings.from_config(self.config), concurrency)


__all__ = ["Outgoing"]
