"""The one way rig sets up the realtime socket: the platform's URL, a token re-read at every
(re)connect, and rig's socket settings. One-shot commands follow through :func:`following`
(``logs -f``, ``deploy``, ``status --watch``); the shell's own socket and ``watch`` open a
:class:`rig.transport.socket.Socket` with :func:`open_socket`.

``RIG_HEARTBEAT_S`` sets the heartbeat interval (30 s by default): a heartbeat left unanswered
that long means a dead connection, which is then replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rig.config import tls_settings
from rig.errors import AuthError, NotFoundError, RigError, UnreachableError

if TYPE_CHECKING:
    from rig.api.client import Api
    from rig.context import Context
    from rig.transport.follow import Events, Following
    from rig.transport.http import ApiClient
    from rig.transport.socket import ConnectionState, Params, Socket

HEARTBEAT_ENV = "RIG_HEARTBEAT_S"


def socket_params(
    client: ApiClient, on_expired: Callable[[AuthError], None] | None = None
) -> Params:
    """The socket's connect params, re-read at every (re)connect: a token refreshed meanwhile
    is used. When the platform cannot be asked for a fresh token (it is down), the current
    one is tried; the platform refusing it keeps the socket retrying until it is back. When
    it refuses the refresh itself (the login expired or was revoked), ``on_expired`` hears."""
    token = ""

    def params() -> dict[str, str]:
        nonlocal token
        try:
            header = client.auth_headers().get("Authorization", "")
        except AuthError as expired:
            if on_expired is not None:
                on_expired(expired)
            return {"token": token}
        except RigError:
            return {"token": token}
        token = header.removeprefix("Bearer ")
        return {"token": token}

    return params


def socket_options(env: Mapping[str, str]) -> dict[str, Any]:
    """The socket's settings from the command's environment: the heartbeat, and TLS's."""
    options: dict[str, Any] = {"tls": tls_settings(env)}
    try:
        interval = float(env.get(HEARTBEAT_ENV, ""))
    except ValueError:
        return options
    return {**options, "heartbeat_interval": interval} if interval > 0 else options


def open_socket(base_url: str, params: Params, env: Mapping[str, str]) -> Socket:
    """A socket to the platform at ``base_url`` with rig's settings from ``env`` (not
    connected yet)."""
    from rig.transport.socket import Socket

    return Socket(base_url, params, **socket_options(env))


def following(
    ctx: Context,
    topics: Sequence[str],
    *,
    after: Mapping[str, int] | None = None,
    events: Events | None = None,
    patient: bool = False,
) -> Following:
    """A ``Following`` on the command's platform that says on stderr when it reconnects,
    flushes stdout whenever it waits for more, ends when the command's context closes
    (a killed shell job), and ends with AuthError when the login is over.

    Under ``-o json`` it says nothing of reconnecting unless ``-v`` asks for diagnostics:
    stderr then carries only the ``{"error": ...}`` document a script parses (a notice
    before it would break ``json.loads`` only when there was an outage), and an outage rig
    recovers from changes nothing of the result; one it does not recover from ends in
    that error."""
    from rig.transport.follow import REFUSED, ConnectionNotices, Following

    client = ctx.api().client
    notices = ConnectionNotices(ctx.stderr) if ctx.verbose or not ctx.json else None

    def login_over(expired: AuthError) -> None:
        live.interrupt(expired)

    def on_state(state: ConnectionState) -> None:
        if notices is not None:
            notices(state)
        if getattr(state, "reason", None) in REFUSED:
            _check_login(client, login_over)

    live = Following(
        client.base_url,
        socket_params(client, login_over),
        topics,
        after=after,
        events=events,
        on_state=on_state,
        on_idle=ctx.stdout.flush,
        patient=patient,
        **socket_options(ctx.env),
    )
    ctx.on_close(live.interrupt)
    return live


def _check_login(client: ApiClient, on_expired: Callable[[AuthError], None]) -> None:
    """The platform refused the socket's token: a refresh tells whether the login is over
    (refused too) or the next try will do (refreshed, or the platform is not answering)."""
    if not (client.tokens and client.tokens.refresh_token):
        on_expired(AuthError("the platform refused the login token", hint="run `rig login` again"))
        return
    try:
        client.refresh()
    except AuthError as expired:
        on_expired(expired)
    except RigError:
        pass


def socket_error(error: Exception, what: str) -> RigError:
    """A socket failure as the RigError a command reports."""
    from rig.transport.follow import REFUSED, Unavailable
    from rig.transport.socket import JoinError

    if isinstance(error, JoinError):
        return NotFoundError(f"the platform refused to follow {what}", hint="is it still there?")
    if isinstance(error, Unavailable) and error.reason in REFUSED:
        return AuthError("the platform refused the connection", hint="run `rig login` again")
    return UnreachableError(
        f"cannot follow {what} live: {error}", hint="is the platform still running?"
    )


def api_socket(api: Api) -> tuple[str, Params]:
    """The URL and token params for a socket on ``api``'s platform (``watch``)."""
    return api.base_url, socket_params(api.client)
