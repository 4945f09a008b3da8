"""Image deploys on the Swarm runtime (``rig deploy --image REF``): a prebuilt image from a
registry, resolved to its digest, pulled with the user's credentials, and made runnable the
platform's way. The Swarm driver calls, in order: ``session`` (an engine client holding the
credentials), ``resolve`` (before the release is recorded: the errors a user must see at once),
``pull`` and ``wrap`` (in the release's background work), then ``services.deploy`` with
``WrappedImage.tag`` and ``WrappedImage.command``.

**The carrier of the variables.** A release image gets the app's variables from the launcher
(``launch.py``, the image's entrypoint), which reads the Swarm secret ``/run/secrets/rig-env``
(``variables``): never the service's ``Env``, which ``docker inspect`` shows. A foreign image
may have no python3 (alpine, distroless, a static Go binary), so ``wrap`` adds a layer with a
launcher that needs nothing of the image:

- ``/usr/local/lib/rig/busybox``: the machine's Debian ``busybox-static`` binary, copied in.
  Statically linked, so it runs on any Linux image whatever its libc (musl, glibc) or lack of
  one; 2 MB, once per image (the layer is the same for every image, so the engine stores it
  once). Checked to be static before use (an ELF without a program interpreter).
- ``/usr/local/lib/rig/env.awk``: reads the secret's JSON object of strings (``json.dumps``
  with ``ensure_ascii``: the file is ASCII, escapes are ``\\" \\\\ \\/ \\b \\f \\n \\r \\t
  \\uXXXX``, surrogate pairs included) and prints ``export KEY='VALUE'`` lines, values
  single-quoted (``'`` as ``'\\''``), which the launcher evaluates: no value is ever
  interpreted by the shell.
- ``/usr/local/bin/rig-launch`` (the same path as the release images' launcher, so services
  and exec use either image alike): ``#!/usr/local/lib/rig/busybox sh``; it exports the
  variables, then looks the command up in the image's own ``PATH`` itself and execs it by
  its path: busybox's shell would otherwise prefer its own applet of the same name (``sh``,
  ``httpd``...) to the image's program.

Other carriers considered: the base image's python3 and launch.py copied in (a glibc tree of
~30 MB that must not collide with the image's own files; breaks on musl images without its
loader), the variables in ``Env`` (visible in ``docker inspect``), an env file the image's own
shell sources (the image may have no shell).

**User.** The image runs as the app's uid (``sandbox.app_uid``), never as the image's ``USER``
(root, for most): the isolation issue's non-root property holds for every image, as on Heroku
and Cloud Run. What it needs to write must be writable by any user (``/tmp``), and it must
listen on ``$PORT``; the image's ``WORKDIR``, ``ENV``, ``ENTRYPOINT`` and ``CMD`` are kept.

**Errors** are one line each, said in the registry's terms (``registry``): ``api_error`` maps
them to the API's (404 image not found, 403 credentials refused, 502 registry unreachable).
"""

from __future__ import annotations

import contextlib
import io
import json
import platform
import shutil
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from maxlocal import errors
from maxlocal.runtime.imageref import ImageRef, RegistryAuth
from maxlocal.runtime.swarm import registry
from maxlocal.runtime.swarm.engine import APP, MANAGED, NETWORK, RELEASE, EngineError, connect
from maxlocal.runtime.swarm.images import LAUNCHER, image_tag, run_build
from maxlocal.runtime.swarm.launch import ENV_FILE

if TYPE_CHECKING:
    import docker

CARRIER_DIR = "/usr/local/lib/rig"
BUSYBOX = f"{CARRIER_DIR}/busybox"
ENV_AWK = f"{CARRIER_DIR}/env.awk"
MARKER = "rig-image.json"
"""In an image release's directory (it has no files of its own): the wrapped image's tag, the
digest it was made from, its command and working directory."""
IMAGE = "io.maxlocal.image"
"""Label of a wrapped image: the digest reference it was made from."""
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
HINT_BUSYBOX = "install Debian's busybox-static (scripts/install-system-deps)"

LAUNCH_SH = f"""#!{BUSYBOX} sh
# rig-launch of an image from a registry (maxlocal/runtime/swarm/imagedeploy.py): the app's
# variables from {ENV_FILE}, then the command, found in the image's own PATH.
set -f
if [ -e {ENV_FILE} ]; then
    __rig_vars=$({BUSYBOX} awk -f {ENV_AWK} {ENV_FILE}) || {{
        echo "rig-launch: cannot read the app's variables" >&2
        exit 126
    }}
    eval "$__rig_vars"
    unset __rig_vars
fi
if [ $# -eq 0 ]; then
    echo "rig-launch: no command" >&2
    exit 127
fi
__rig_cmd=$1
shift
case $__rig_cmd in
*/*) ;;
*)
    __rig_found=
    __rig_ifs=$IFS
    IFS=:
    for __rig_dir in $PATH; do
        if [ -f "${{__rig_dir:-.}}/$__rig_cmd" ] && [ -x "${{__rig_dir:-.}}/$__rig_cmd" ]; then
            __rig_found=${{__rig_dir:-.}}/$__rig_cmd
            break
        fi
    done
    IFS=$__rig_ifs
    if [ -z "$__rig_found" ]; then
        echo "rig-launch: $__rig_cmd: not found" >&2
        exit 127
    fi
    __rig_cmd=$__rig_found
    unset __rig_found __rig_dir __rig_ifs
    ;;
esac
exec "$__rig_cmd" "$@"
"""

ENV_AWK_SOURCE = r"""# The app's variables (a JSON object of strings, as variables.py writes it)
# as `export KEY='VALUE'` lines for rig-launch to eval; no value reaches the shell unquoted.
function hexval(s,    i, v) {
    v = 0
    for (i = 1; i <= 4; i++) v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
    return v
}
function quoted(c) { return c == "'" ? "'\\''" : c }
function byte(n) { return sprintf("%c", n) }
function tail(cp, unit) { return byte(128 + int(cp / unit) % 64) }
function utf8(cp) {  # (busybox's awk has no ^: the units are written out)
    if (cp < 128) return quoted(byte(cp))
    if (cp < 2048) return byte(192 + int(cp / 64)) tail(cp, 1)
    if (cp < 65536) return byte(224 + int(cp / 4096)) tail(cp, 64) tail(cp, 1)
    return byte(240 + int(cp / 262144)) tail(cp, 4096) tail(cp, 64) tail(cp, 1)
}
# the string whose opening quote is before `at`: its text in OUT, the index after it returned
function readstr(at,    c, e, cp, lo) {
    OUT = ""
    while (at <= N) {
        c = substr(TEXT, at, 1)
        if (c == "\"") return at + 1
        if (c != "\\") { OUT = OUT quoted(c); at++; continue }
        e = substr(TEXT, at + 1, 1)
        if (e == "u") {
            cp = hexval(substr(TEXT, at + 2, 4)); at += 6
            if (cp >= 55296 && cp < 56320 && substr(TEXT, at, 2) == "\\u") {
                lo = hexval(substr(TEXT, at + 2, 4))
                if (lo >= 56320 && lo < 57344) {
                    cp = 65536 + (cp - 55296) * 1024 + (lo - 56320)
                    at += 6
                }
            }
            if (cp == 0) { BAD = 1; continue }
            OUT = OUT utf8(cp); continue
        }
        if (e == "n") OUT = OUT "\n"
        else if (e == "t") OUT = OUT "\t"
        else if (e == "r") OUT = OUT "\r"
        else if (e == "b") OUT = OUT "\b"
        else if (e == "f") OUT = OUT "\f"
        else OUT = OUT quoted(e)
        at += 2
    }
    BAD = 1
    return at
}
BEGIN { RS = "\001" }
{ TEXT = TEXT $0 }
END {
    N = length(TEXT); i = 1; count = 0
    while (i <= N) {
        if (substr(TEXT, i, 1) != "\"") { i++; continue }
        i = readstr(i + 1)
        if (count++ % 2 == 0) { key = OUT; continue }
        if (key !~ /^[A-Za-z_][A-Za-z0-9_]*$/) { BAD = 1; continue }
        printf "export %s='%s'\n", key, OUT
    }
    if (BAD || count % 2) exit 1
}
"""


@dataclass(frozen=True)
class WrappedImage:
    """The image to run (``tag``), made from ``source`` (its digest reference), and what the
    service runs in it: the source image's ENTRYPOINT + CMD, in its WORKDIR."""

    tag: str
    id: str
    source: str
    command: tuple[str, ...]
    workdir: str


@contextlib.contextmanager
def session(
    image: ImageRef, auth: RegistryAuth | None, base_url: str | None = None
) -> Iterator[docker.DockerClient]:
    """An engine client of its own, logged in to ``image``'s registry with ``auth`` (the SDK
    keeps the credentials in this client's memory only, and sends them with its pulls and
    service creates), closed afterwards."""
    client = connect(base_url)
    try:
        if auth is not None:
            registry.login(client, image.host, auth.username, auth.password)
        yield client
    finally:
        client.close()


def resolve(client: docker.DockerClient, image: ImageRef) -> str:
    """The digest reference (``repository@sha256:...``) ``image`` names now, asked of its
    registry without pulling (the engine's distribution endpoint, with the session's
    credentials): a missing image, refused credentials or an unreachable registry is said
    here, before anything is recorded. An image with no variant for this engine's platform is
    refused too."""
    import docker.errors

    try:
        found = client.api.inspect_distribution(str(image))
    except docker.errors.APIError as exc:
        raise registry.classify(str(exc.explanation or exc), str(image)) from exc
    digest = str(found.get("Descriptor", {}).get("digest", ""))
    if not digest.startswith("sha256:"):
        raise registry.RegistryError(f"the registry gave no digest for {image}")
    platforms = found.get("Platforms") or []
    arch = _engine_arch(client)
    known = [p for p in platforms if p.get("architecture")]
    if known and not any(p.get("architecture") == arch for p in known):
        has = ", ".join(sorted({f"{p.get('os')}/{p['architecture']}" for p in known}))
        raise registry.RegistryError(f"{image} has no linux/{arch} variant (it has: {has})")
    return f"{image.repository}@{digest}"


def pull(client: docker.DockerClient, digest_ref: str) -> str:
    """Pull ``digest_ref`` (the session's credentials); its digest reference as the engine
    records it."""
    return registry.pull(client, digest_ref)


def wrap(
    client: docker.DockerClient,
    digest_ref: str,
    *,
    app: str,
    network: str,
    release: str,
    uid: int,
    busybox: Path | None = None,
) -> WrappedImage:
    """The pulled ``digest_ref`` with the launcher layer on top, run as ``uid``, tagged and
    labelled as a release image of ``app`` (so reconcile and remove find it)."""
    config = client.api.inspect_image(digest_ref).get("Config") or {}
    command = tuple((config.get("Entrypoint") or []) + (config.get("Cmd") or []))
    if not command:
        raise EngineError(f"{digest_ref} has no ENTRYPOINT or CMD: nothing to run")
    workdir = str(config.get("WorkingDir") or "/")
    tag = image_tag(app, release)
    labels = {MANAGED: "release", APP: app, NETWORK: network, RELEASE: release, IMAGE: digest_ref}
    context = _context(digest_ref, uid, command, busybox or find_busybox())
    made = run_build(client, context, tag, labels, f"a runnable image of {digest_ref}")
    return WrappedImage(tag, made, digest_ref, command, workdir)


def save(directory: Path, wrapped: WrappedImage) -> None:
    """Record ``wrapped`` in a release's directory (``MARKER``): what tells the driver that the
    release is an image's, and what a config release or rollback of it runs again."""
    directory.mkdir(parents=True, exist_ok=True)
    record = {"tag": wrapped.tag, "source": wrapped.source, "command": list(wrapped.command)}
    (directory / MARKER).write_text(json.dumps({**record, "workdir": wrapped.workdir}) + "\n")


def saved(directory: Path) -> WrappedImage | None:
    """The wrapped image a release directory records; None for a source release's."""
    try:
        record = json.loads((directory / MARKER).read_text())
    except FileNotFoundError:
        return None
    command = tuple(record["command"])
    return WrappedImage(record["tag"], "", record["source"], command, record["workdir"])


def forget_sources(client: docker.DockerClient, sources: Iterable[str]) -> None:
    """Remove the pulled images (digest references) whose wrapped images were removed; one
    another wrapped image still builds on stays (the engine refuses: it has a child)."""
    import docker.errors

    for source in sources:
        with contextlib.suppress(docker.errors.APIError):
            client.api.remove_image(source)


def health_command(port: int, timeout_s: float) -> list[str]:
    """The task's health probe for a wrapped image (no python3 to run the release images'):
    healthy once something accepts a connection on ``port`` (the process runtime's terms),
    sent a ``HEAD`` so that an HTTP server answers and closes. busybox's ``nc``, not its
    ``wget``: the static build's ``wget`` crashes resolving even an address (no NSS)."""
    script = (
        "printf 'HEAD / HTTP/1.0\\r\\n\\r\\n' | "
        f"{BUSYBOX} nc -w {max(1, round(timeout_s))} 127.0.0.1 {port} >/dev/null"
    )
    return [BUSYBOX, "sh", "-c", script]


def find_busybox() -> Path:
    """The machine's statically linked busybox; EngineError saying how to get one."""
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.is_file() and _is_static_elf(path):
            return path
    found = shutil.which("busybox")
    if found and _is_static_elf(Path(found)):
        return Path(found)
    raise EngineError(f"no statically linked busybox on this machine: {HINT_BUSYBOX}")


def api_error(exc: registry.RegistryError) -> errors.PlatformError:
    """The API's error for a registry failure: what a client shows, with its exit code."""
    message = str(exc)
    if isinstance(exc, registry.ImageNotFound):
        return errors.NotFound(message, "check the name and tag: `docker manifest inspect REF`")
    if isinstance(exc, registry.CredentialsRefused):
        return errors.Forbidden(
            message,
            "store working ones with `rig create registry HOST --username USER`, "
            "or pass --registry-auth USER",
        )
    if isinstance(exc, registry.RegistryUnreachable):
        return errors.RegistryUnreachable(message, "check the registry's host and port")
    return errors.InvalidRequest(message)


def _context(digest_ref: str, uid: int, command: Sequence[str], busybox: Path) -> io.BytesIO:
    dockerfile = "\n".join(
        [
            f"FROM {digest_ref}",
            "COPY rootfs/ /",
            f"USER {uid}:{uid}",
            f'ENTRYPOINT ["{LAUNCHER}"]',
            f"CMD {json.dumps(list(command))}",
        ]
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add(tar, "Dockerfile", dockerfile.encode() + b"\n", 0o644)
        _add(tar, "rootfs" + BUSYBOX, busybox.read_bytes(), 0o755)
        _add(tar, "rootfs" + ENV_AWK, ENV_AWK_SOURCE.encode(), 0o644)
        _add(tar, "rootfs" + LAUNCHER, LAUNCH_SH.encode(), 0o755)
    buffer.seek(0)
    return buffer


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    """A root-owned file and its directories (0755): the app's user runs it, cannot change it."""
    parts = name.split("/")
    for depth in range(1, len(parts)):
        directory = "/".join(parts[:depth])
        if directory not in tar.getnames():
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _is_static_elf(path: Path) -> bool:
    """An ELF executable without a PT_INTERP program header (no dynamic loader needed)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only: the engines we run on
        return False
    order: Literal["little", "big"] = "little" if data[5] == 1 else "big"
    phoff = int.from_bytes(data[32:40], order)
    size, count = int.from_bytes(data[54:56], order), int.from_bytes(data[56:58], order)
    for n in range(count):
        kind = int.from_bytes(data[phoff + n * size : phoff + n * size + 4], order)
        if kind == 3:  # PT_INTERP
            return False
    return True


def _engine_arch(client: docker.DockerClient) -> str:
    """The engine's architecture in OCI terms (amd64, arm64)."""
    machine = str(client.info().get("Architecture") or platform.machine())
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
