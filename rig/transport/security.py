"""How rig connects safely: no plain HTTP off this machine, verified TLS 1.2+, and bounded waits.

It applies a command's :class:`rig.config.TlsSettings`, which its Context reads from its
environment: ``RIG_INSECURE=1`` (or the global ``--insecure``) allows ``http://`` to a host
that is not loopback; ``RIG_CA_BUNDLE`` names the CA certificates to trust instead of the
usual ones (``SSL_CERT_FILE``, else certifi's); ``RIG_TIMEOUT`` is how many seconds to wait
for the platform to answer (connecting waits at most ``CONNECT_TIMEOUT``).
"""

from __future__ import annotations

import ipaddress
import ssl
from urllib.parse import urlsplit

from rig.config import CA_BUNDLE_ENV, TlsSettings
from rig.errors import UnreachableError, UsageError

CONNECT_TIMEOUT = 5.0


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_plain_http(url: str, tls: TlsSettings) -> None:
    """Refuse ``http://`` to a host that is not loopback, unless ``tls`` allows it."""
    parts = urlsplit(url)
    if parts.scheme != "http" or is_loopback(parts.hostname or "") or tls.plain_http_allowed:
        return
    raise UsageError(
        f"refusing plain http:// to {parts.hostname}: tokens would cross the network unencrypted",
        hint=f"use https://{parts.netloc}, or pass --insecure (RIG_INSECURE=1) if you must",
    )


def ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    """A verifying client context trusting ``tls``'s CAs, TLS 1.2 at least (1.3 when the
    server offers it)."""
    cafile = tls.ca_file
    if cafile is None:
        import certifi

        cafile = certifi.where()
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"cannot load the CA certificates in {cafile}: {exc}",
            hint=f"point {CA_BUNDLE_ENV} at a PEM file of CA certificates",
        ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def tls_failure(base_url: str, exc: BaseException) -> UnreachableError | None:
    """The error for a failed TLS handshake hidden in ``exc``'s causes, or None."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            reason = seen.verify_message or seen.reason or "certificate verify failed"
            return UnreachableError(
                f"the TLS certificate of {base_url} is not trusted: {reason}",
                hint=f"check the URL's host name; for a private CA set {CA_BUNDLE_ENV}=ca.pem",
            )
        if isinstance(seen, ssl.SSLError):
            return UnreachableError(
                f"TLS with {base_url} failed: {seen.reason or seen}",
                hint="the platform must offer TLS 1.2 or later",
            )
        seen = seen.__cause__ or seen.__context__
    return None
