"""What the platform builds with: its caches, ``uv`` (else pip), and the machine's Node tools.

Tools are found in fixed places (the ``uv`` that ships with the platform, the system's
bin directories), never through the platform's own ``PATH``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from maxlocal.runtime.proc import SYSTEM_PATH

PROXY_VARS = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}
)
CA_BUNDLES = (  # the system's certificate store, for pip (which trusts its own otherwise)
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)
BUILDER_VERSION = "1"  # part of every cache key: a change in how environments are built


def machine_proxies() -> dict[str, str]:
    """The machine's own proxy settings (from the platform's environment): builds keep
    them, and the platform's build proxy (``runtime.egress``) stands aside for them."""
    return {k: v for k, v in os.environ.items() if k in PROXY_VARS}


@functools.cache
def _uv() -> Path | None:
    try:
        import uv

        return Path(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def system_tool(name: str, dirs: tuple[str, ...] = SYSTEM_PATH) -> Path | None:
    found = shutil.which(name, path=":".join(dirs))
    return Path(found) if found else None


@functools.cache
def _node_version() -> str | None:
    node = system_tool("node")
    if node is None:
        return None
    try:
        out = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=10, env={}
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@dataclass(frozen=True)
class Toolbox:
    cache: Path
    with_uv: bool = True
    """False: build Python environments with the interpreter's venv and pip, as a platform
    without uv does (and as its test does)."""
    tool_dirs: tuple[str, ...] = SYSTEM_PATH
    """Where npm, yarn and pnpm are looked for (a test adds a directory of its own)."""
    area: Path | None = None
    """One app's own build area (``for_app``), else the cache shared by every app."""

    def tool(self, name: str) -> Path | None:
        return system_tool(name, self.tool_dirs)

    def for_app(self, platform: str, app_id: int) -> Toolbox:
        """The toolbox of one app's sandboxed builds: its environments and download caches
        in an area of its own, ``<cache>/apps/<platform>/<app id>``. Nothing a tenant's
        build made (a download cache it can write, an environment built from it) is used by
        another tenant's build, and the environment being built sits on the same mount as
        the caches, so that uv hardlinks packages instead of copying them."""
        return dataclasses.replace(self, area=self.cache / "apps" / platform / str(app_id))

    @property
    def root(self) -> Path:
        """Where this toolbox keeps its environments and download caches."""
        return self.area or self.cache

    @property
    def envs(self) -> Path:
        """Dependency environments, one directory per key."""
        return self.root / "envs"

    @property
    def uv(self) -> Path | None:
        return _uv() if self.with_uv else None

    @property
    def node_version(self) -> str | None:
        return _node_version()

    @property
    def download_caches(self) -> tuple[Path, ...]:
        """The package managers' download caches (see ``download_env``)."""
        return (self.root / "uv", self.root / "pip", self.root / "npm")

    def sandbox_paths(self) -> list[Path]:
        """What builds and apps run that lives outside the system's ``/usr``: the
        interpreters' prefixes (``/root/.pyenv/versions/X``) and ``uv``, which a sandbox
        shows read-only at their own paths."""
        from maxlocal.builders.pythons import interpreters

        paths = [Path(os.path.realpath(i.path)).parent.parent for i in interpreters()]
        return [*paths, *([self.uv] if self.uv is not None else [])]

    def download_env(self) -> dict[str, str]:
        """What build steps add to the tenant environment: the package managers' shared
        download caches, the system's certificate store (uv and node otherwise trust only
        the roots they ship, and fail behind a TLS-inspecting proxy the machine trusts), no
        prompts or nagging, and the machine's proxy settings, the one thing builds take
        from the platform's own environment (they are how this machine reaches the
        registries, not anything of the platform's)."""
        proxies = machine_proxies()
        bundle = next((b for b in CA_BUNDLES if os.path.isfile(b)), None)
        return {
            **proxies,
            **({"PIP_CERT": bundle} if bundle else {}),
            "UV_SYSTEM_CERTS": "1",
            "NODE_OPTIONS": "--use-openssl-ca",
            "UV_CACHE_DIR": str(self.download_caches[0]),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            "PIP_CACHE_DIR": str(self.download_caches[1]),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "npm_config_cache": str(self.download_caches[2]),
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
            # yarn's cache inside npm's: one directory for Node's downloads (pnpm's: manager_env)
            "YARN_CACHE_FOLDER": str(self.download_caches[2] / "_yarn"),
        }

    def manager_env(self, tool: str) -> dict[str, str]:
        """``download_env`` for the steps of ``tool`` (npm, yarn, pnpm): pnpm's store goes
        inside npm's cache too, told to pnpm alone, since npm reads every ``npm_config_*``
        variable and warns of one it does not know (``Unknown env config "store-dir"``)."""
        store = {"npm_config_store_dir": str(self.download_caches[2] / "_pnpm")}
        return {**self.download_env(), **(store if tool == "pnpm" else {})}


def key_of(*parts: str) -> str:
    digest = hashlib.sha256(BUILDER_VERSION.encode())
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:16]
