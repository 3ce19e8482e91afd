"""TLS for the SMTP test server: a throwaway CA and a server certificate it signed, made
in-process with trustme, once per process, written to a temporary folder deleted at exit.

Generated at runtime so no private key is committed. The server certificate names localhost,
127.0.0.1 and ::1, so a client that trusts the CA can verify hostnames too.
"""

from __future__ import annotations

import atexit
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TLSFiles:
    """PEM files: the CA to trust (``ca``) and the server's key with its chain (``server``)."""

    ca: Path
    server: Path


_lock = threading.Lock()
_files: TLSFiles | None = None


def tls_files() -> TLSFiles:
    """The test CA and server certificate, made on first use and shared by every server."""
    global _files
    with _lock:
        if _files is None:
            folder = Path(tempfile.mkdtemp(prefix="smtp-test-cert-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            ca = trustme.CA()
            cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
            files = TLSFiles(ca=folder / "ca.pem", server=folder / "server.pem")
            ca.cert_pem.write_to_path(str(files.ca))
            cert.private_key_and_cert_chain_pem.write_to_path(str(files.server))
            _files = files
        return _files


def server_context() -> ssl.SSLContext:
    """What the server presents: the certificate (and key) issued by the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files().server)
    return context


def client_context() -> ssl.SSLContext:
    """A client context that trusts the test CA (full verification on)."""
    return ssl.create_default_context(cafile=str(tls_files().ca))
