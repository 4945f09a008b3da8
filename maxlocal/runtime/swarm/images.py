"""Releases become images: a release directory (its files and the environments it links) on
top of the base image, run as the app's own non-root user.

The image holds:

- the release's files at ``APP_DIR``, owned by root and so read-only to the app (as in the
  process runtime's sandbox);
- each environment the release links (``.venv``, ``node_modules``: top-level symlinks out of
  the release, ``sandbox.linked_layers``) at the same absolute path as on the platform's
  machine, so the link, the venv's ``pyvenv.cfg`` and its scripts' ``#!`` lines stay valid;
  a venv whose interpreter lives outside ``/usr`` (a uv-managed Python) brings that too;
- the launcher (``launch.py``) as the entrypoint.

Labels say app, network and release (``engine``), and the tag is ``<app>:<release>``, so
images are found by label on reconcile and removed with their app.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from maxlocal.runtime.proc import child_env
from maxlocal.runtime.sandbox import linked_layers
from maxlocal.runtime.swarm import base, launch
from maxlocal.runtime.swarm.engine import APP, MANAGED, NETWORK, RELEASE, EngineError

if TYPE_CHECKING:
    import docker

APP_DIR = Path("/app")
HOME = Path("/tmp")
LAUNCHER = "/usr/local/bin/rig-launch"


@dataclass(frozen=True)
class ReleaseImage:
    tag: str
    id: str


def image_tag(app: str, release: str) -> str:
    return f"{app}:{release}"


def build(
    client: docker.DockerClient,
    release_dir: Path,
    *,
    base: str,
    app: str,
    network: str,
    release: str,
    uid: int,
) -> ReleaseImage:
    """Build the image of ``release_dir`` FROM ``base``; EngineError with the builder's
    message when the engine refuses."""
    tag = image_tag(app, release)
    context = _context(release_dir, base, uid)
    labels = {MANAGED: "release", APP: app, NETWORK: network, RELEASE: release}
    return ReleaseImage(tag, run_build(client, context, tag, labels, f"the image of {tag}"))


def run_build(
    client: docker.DockerClient, context: io.BytesIO, tag: str, labels: dict[str, str], what: str
) -> str:
    """Build the tar ``context`` (a Dockerfile and what it copies) as ``tag``; the image's
    id, or EngineError saying ``what`` failed in the builder's words."""
    for event in client.api.build(
        fileobj=context,
        custom_context=True,
        tag=tag,
        labels=labels,
        rm=True,
        forcerm=True,
        decode=True,
    ):
        if "error" in event:
            raise EngineError(f"building {what} failed: {event['error'].strip()}")
    return str(client.images.get(tag).id)


def environment(release_dir: Path) -> dict[str, str]:
    """The base environment of the app's processes in the image: ``proc.child_env``'s
    (the one place it is decided), with the release's paths as they are in the image."""
    env = child_env({}, release_dir, home=HOME)
    return {key: value.replace(str(release_dir), str(APP_DIR)) for key, value in env.items()}


def _context(release_dir: Path, base: str, uid: int) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(release_dir, arcname="rootfs" + str(APP_DIR), filter=_root_owned)
        for layer in linked_layers(release_dir):
            rebased = _rebase(layer)
            skip = {"rootfs" + str(layer / name) for name in rebased}
            tar.add(layer, arcname="rootfs" + str(layer), filter=_skipping(skip))
            for name, (target, text) in rebased.items():
                arcname = "rootfs" + str(layer / name)
                if text is None:
                    _add_link(tar, arcname, target)
                else:
                    _add_text(tar, arcname, text, 0o644)
            for extra in _interpreter_dirs(layer) if not rebased else ():
                tar.add(extra, arcname="rootfs" + str(extra), filter=_root_owned)
        _add_text(tar, "rootfs" + LAUNCHER, Path(launch.__file__).read_text(), 0o755)
        _add_text(tar, "Dockerfile", _dockerfile(base, uid, environment(release_dir)), 0o644)
    buffer.seek(0)
    return buffer


def _dockerfile(base: str, uid: int, env: dict[str, str]) -> str:
    import json

    lines = [
        f"FROM {base}",
        "COPY rootfs/ /",
        f"WORKDIR {APP_DIR}",
        *(f"ENV {key}={json.dumps(value)}" for key, value in sorted(env.items())),
        f"USER {uid}:{uid}",
        f'ENTRYPOINT ["{LAUNCHER}"]',
    ]
    return "\n".join(lines) + "\n"


def _rebase(layer: Path) -> dict[str, tuple[str, str | None]]:
    """For a venv made from a Python outside ``/usr`` of the base image's minor version
    (``base.PYTHON``): its files that name that interpreter, rewritten to the base image's
    (name in the venv -> (link target, or None and the new text)). The venv's packages are
    built for that minor version, so they run on it; the interpreter (a pyenv build is
    ~1 GB) is not copied. Empty when the venv is left as it is."""
    config = layer / "pyvenv.cfg"
    if not config.is_file():
        return {}
    values = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition("=") for line in config.read_text().splitlines())
    )
    home, version = Path(values.get("home", "/usr/bin")), values.get("version_info", "")
    if home.is_relative_to("/usr") or not version.startswith(base.PYTHON + "."):
        return {}
    python = f"/usr/bin/python{base.PYTHON}"
    text = "".join(
        "home = /usr/bin\n" if line.partition("=")[0].strip() == "home" else line + "\n"
        for line in config.read_text().splitlines()
    )
    rebased: dict[str, tuple[str, str | None]] = {"pyvenv.cfg": ("", text)}
    for name in ("python", "python3", f"python{base.PYTHON}"):
        if (layer / "bin" / name).is_symlink():
            rebased[f"bin/{name}"] = (python, None)
    return rebased


def _skipping(names: set[str]) -> Callable[[tarfile.TarInfo], tarfile.TarInfo | None]:
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if info.name in names else _root_owned(info)

    return keep


def _add_link(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    tar.addfile(info)


def _interpreter_dirs(layer: Path) -> list[Path]:
    """A venv's interpreter installation when it is not the system's (``/usr``)."""
    config = layer / "pyvenv.cfg"
    if not config.is_file():
        return []
    for line in config.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            home = Path(value.strip())
            if not home.is_relative_to("/usr") and home.parent.is_dir():
                return [home.parent]
    return []


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Owned by root, readable (and where executable by its owner, runnable) by everyone,
    writable by nobody else: the app's user reads its release and cannot change it, whatever
    modes the files had on the platform's machine (a 0700 release directory)."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if not info.issym():
        runnable = info.isdir() or info.mode & 0o100
        info.mode = (info.mode | 0o444 | (0o111 if runnable else 0)) & ~0o022
    return info


def _add_text(tar: tarfile.TarFile, name: str, text: str, mode: int) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))
