"""``login``, ``logout`` and ``whoami``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from rig.cli import CommandTree
from rig.config import Contexts
from rig.errors import UsageError
from rig.output import Result
from rig.prompt import ask, ask_hidden, warn_secret_in_argv

if TYPE_CHECKING:
    from rig.context import Context

CREDENTIALS_HINT = (
    "pass --token - (the token on stdin; or set RIG_TOKEN), or --email E --password-stdin"
)
STDIN = "-"
DEVICE_TIP = (
    "No browser here? `rig login --device` lets you approve this login from a browser "
    "on another machine.\n"
)


def no_browser(env: Mapping[str, str]) -> bool:
    """An SSH session, CI, or a Linux box without a display: no browser to sign in with."""
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY") or env.get("CI"):
        return True
    linux = sys.platform.startswith("linux")
    return linux and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "login",
        login,
        "log in to a Max platform and make it the current context",
        examples=[
            "rig login --api https://max.example.com          # prompts for email and password",
            "rig login --token - --api https://max.example.com < token.txt   # token on stdin",
            'echo "$PASSWORD" | rig login --email me@example.com --password-stdin',
            "rig login --device --api https://max.example.com   # approve in a browser elsewhere",
        ],
        description="Log in to a Max platform. The session is stored under a context name "
        "(--context, default: the context already used for that API, else 'default'), which "
        "becomes current. Tokens go to the OS keyring, or to a 0600 file where there is none.",
    )
    parser.add_argument(
        "--token",
        metavar="T",
        help="an API token (mxt_...); '-': the first line of stdin (a token in argv stays in "
        "shell history and shows in ps); default: $RIG_TOKEN",
    )
    parser.add_argument("--email", metavar="E", help="your email (prompted for on a terminal)")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin",
    )
    parser.add_argument(
        "--device",
        action="store_true",
        help="print a code to approve on the platform's page from any browser (for SSH, CI, "
        "containers); rig waits for the approval",
    )

    parser = tree.add(
        "logout",
        logout,
        "end a session: revoke it on the platform and forget the stored tokens",
        examples=["rig logout", "rig logout --context staging", "rig logout --all"],
    )
    parser.add_argument("--all", action="store_true", help="log out of every context")

    tree.add(
        "whoami",
        whoami,
        "show who you are logged in as, and where",
        examples=["rig whoami -o json"],
    )


def login(ctx: Context, args: argparse.Namespace) -> Result:
    from rig.api.auth import default_context_name
    from rig.api.auth import login as session_login
    from rig.transport.session import env_token

    contexts = Contexts.load()
    api = _login_api(ctx, contexts)
    name = ctx.context_name or default_context_name(api, contexts)
    if args.device:
        from rig.api.auth import device_login

        show = partial(_show_code, ctx)
        info = device_login(api, context_name=name, show=show, tls=ctx.tls)
        return _logged_in(info)
    token = _token(ctx, args.token) or env_token(ctx.env)
    email = password = None
    if not token:
        email, password = _email_and_password(ctx, args)
    info = session_login(
        api,
        context_name=name,
        email=email,
        password=password,
        token=token,
        tls=ctx.tls,
    )
    return _logged_in(info)


def _token(ctx: Context, given: str | None) -> str | None:
    """``--token``'s value: read from stdin for ``-``; from argv with a warning on a terminal."""
    if given == STDIN:
        token = ctx.stdin.readline().strip()
        if not token:
            raise UsageError("--token - read no token from stdin", hint=CREDENTIALS_HINT)
        return token
    if given:
        warn_secret_in_argv(ctx, "a token", "`rig login --token -` reads it from stdin")
    return given


def _logged_in(info: dict[str, Any]) -> Result:
    from rig import credentials

    return Result(
        data=info,
        message=f"Logged in to {info['api']} as {info['user']} (context {info['context']}).\n"
        f"Credentials stored in {credentials.describe(info['store'])}.",
        show_data=False,
    )


def _login_api(ctx: Context, contexts: Contexts) -> str:
    """--api, else the named context's API, else the current context's, else the `local` one's."""
    if ctx.api_url:
        return ctx.api_url
    for name in (ctx.context_name, contexts.current, "local"):
        entry = contexts.get(name) if name else None
        if entry is not None:
            return entry.api
    raise UsageError(
        "which platform? No --api given and no context to log in to again",
        hint="pass --api URL, or run `rig local start` for a platform on this machine",
    )


def _email_and_password(ctx: Context, args: argparse.Namespace) -> tuple[str, str]:
    email = args.email
    if args.password_stdin:
        if not email:
            raise UsageError("--password-stdin needs --email", hint=CREDENTIALS_HINT)
        return email, ctx.stdin.readline().rstrip("\r\n")
    if not ctx.interactive:
        hint = CREDENTIALS_HINT + (", or --device" if no_browser(ctx.env) else "")
        raise UsageError("no credentials to log in with (not a terminal, so no prompt)", hint=hint)
    if no_browser(ctx.env):
        ctx.stderr.write(DEVICE_TIP)
    while not email:
        email = ask(ctx, "Email: ").strip()
    return email, ask_hidden(ctx, "Password: ")


def logout(ctx: Context, args: argparse.Namespace) -> Result:
    from rig.api.auth import logout as session_logout

    contexts = Contexts.load()
    if args.all:
        names = list(contexts.contexts)
    else:
        name = ctx.context_name or contexts.current
        names = [name] if name else []
    if not names:
        return Result(data=[], message="Not logged in; nothing to do.", show_data=False)
    results = session_logout(names, ctx.tls)
    from rig.config import login_again

    lines = []
    for r in results:
        line = f"Logged out of {r['context']} ({r['api']})"
        line += f": {r['note']}" if r["note"] else ""
        lines.append(f"{line}. Log in again with `{login_again(r['context'])}`.")
    return Result(data=results, message="\n".join(lines), show_data=False)


def whoami(ctx: Context, args: argparse.Namespace) -> Result:
    from rig.transport.session import env_token, resolve_target

    api = ctx.api()
    me = api.me()
    target = resolve_target(ctx)
    via_token = bool(env_token(ctx.env))
    data = {
        "email": me.get("email"),
        "id": me.get("id"),
        "api": api.base_url,
        "context": None if via_token or target is None else target.context,
        "auth": "api token (RIG_TOKEN)" if via_token else "session",
    }
    return Result(data=data, fields=["email", "api", "context", "auth"])


def _show_code(ctx: Context, grant: dict[str, Any]) -> None:
    from rig.output.terminal import safe_text

    minutes = max(1, round(int(grant.get("expires_in") or 600) / 60))
    uri, code = (
        safe_text(str(grant.get("verification_uri"))),
        safe_text(str(grant.get("user_code"))),
    )
    ctx.stderr.write(
        f"To log in, open {uri} in a browser on any device "
        f"and enter this code:\n\n    {code}\n\n"
        f"Or open {safe_text(str(grant.get('verification_uri_complete')))}\n"
        f"Waiting for approval (the code expires in {minutes} min; Ctrl+C cancels)...\n"
    )
    ctx.stderr.flush()
