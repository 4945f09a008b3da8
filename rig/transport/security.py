"""How rig connects safely: no plain HTTP off this machine, verified TLS 1.2+, and bounded waits.

``RIG_INSECURE=1`` (or the global ``--insecure``) allows ``http://`` to a host that is
not loopback; ``RIG_CA_BUNDLE`` names the CA certificates to trust instead of the
usual ones (``SSL_CERT_FILE``, else certifi's); ``RIG_TIMEOUT`` is how many seconds
to wait for the platform to answer (connecting waits at most ``CONNECT_TIMEOUT``).
"""

from __future__ import annotations

import ipaddress
import ssl
from urllib.parse import urlsplit

from rig.config import INSECURE_ENV, environment, flag
from rig.errors import UnreachableError, UsageError

DEFAULT_TIMEOUT = 15.0
CONNECT_TIMEOUT = 5.0
CA_BUNDLE_ENV = "RIG_CA_BUNDLE"
TIMEOUT_ENV = "RIG_TIMEOUT"


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_plain_http(url: str, insecure: bool | None = None) -> None:
    """Refuse ``http://`` to a host that is not loopback, unless insecure use is allowed: by
    the command's context (``--insecure``), else by ``RIG_INSECURE``."""
    parts = urlsplit(url)
    allowed = flag(environment(), INSECURE_ENV) if insecure is None else insecure
    if parts.scheme != "http" or is_loopback(parts.hostname or "") or allowed:
        return
    raise UsageError(
        f"refusing plain http:// to {parts.hostname}: tokens would cross the network unencrypted",
        hint=f"use https://{parts.netloc}, or pass --insecure (RIG_INSECURE=1) if you must",
    )


def ssl_context() -> ssl.SSLContext:
    """A verifying client context, TLS 1.2 at least (1.3 when the server offers it)."""
    env = environment()
    cafile = env.get(CA_BUNDLE_ENV) or env.get("SSL_CERT_FILE")
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


def timeout_seconds() -> float:
    """``RIG_TIMEOUT`` in seconds, else the default."""
    raw = environment().get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise UsageError(
            f"{TIMEOUT_ENV} must be a positive number of seconds, not {raw[:20]!r}",
            hint=f"e.g. {TIMEOUT_ENV}=30",
        )
    return value


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
