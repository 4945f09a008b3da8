"""Issue 15, finding 3: a 285 KiB upload took the platform from 94 MB to 981 MB. It was a tar
whose pax (or GNU long-name) header claims 300 MB: ``tarfile`` reads such a header whole into
memory before any size check runs. Now the header's size field is checked before it is read,
and the upload is answered 422 at once."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import Api, new_api
from tests.hardening.harden_input_helpers import MiB, PeakRss, own_platform, server_pid
from tests.support.platform import Platform

HEADER_BYTES = 300 * MiB
GROWTH_LIMIT_MIB = 60.0  # a request's own working memory; the attack added ~900 MiB


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with own_platform(tmp_path_factory, "upload") as platform:
        yield platform


def bomb(kind: bytes) -> bytes:
    """A gzip'd tar: a ``kind`` header (pax ``x``, GNU long name ``L``) of HEADER_BYTES, then
    an ordinary file. About 300 KiB, made without holding the 300 MB."""
    header = tarfile.TarInfo("././@LongLink" if kind == tarfile.GNUTYPE_LONGNAME else "pax")
    header.type, header.size = kind, HEADER_BYTES
    member = tarfile.TarInfo("app.py")
    member.size = 5
    fmt = tarfile.GNU_FORMAT if kind == tarfile.GNUTYPE_LONGNAME else tarfile.USTAR_FORMAT
    parts = [header.tobuf(fmt)]
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = io.BytesIO()
    out.write(compressor.compress(parts[0]))
    chunk = b"a" * MiB
    for _ in range(HEADER_BYTES // len(chunk)):
        out.write(compressor.compress(chunk))
    out.write(compressor.compress(member.tobuf() + b"print".ljust(512, b"\0") + b"\0" * 1024))
    out.write(compressor.flush())
    return out.getvalue()


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME], ids=["pax", "gnu"])
def test_a_huge_tar_header_is_refused_before_it_is_read(platform: Platform, kind: bytes) -> None:
    data = bomb(kind)
    assert len(data) < 400 * 1024
    api: Api = new_api(platform)
    network, app = api.new_app()
    with PeakRss(server_pid(platform)) as rss:
        response = api.upload(network, app, data)
        if response.status_code == 202:  # the old way: unpacked in the background
            api.wait(network, app, response.json()["number"], timeout=120)
    print(
        f"upload of {len(data)} bytes: server RSS {rss.before / MiB:.0f} MiB, "
        f"peak +{rss.growth_mib:.0f} MiB, answered {response.status_code}"
    )
    assert rss.growth_mib < GROWTH_LIMIT_MIB, f"the server grew by {rss.growth_mib:.0f} MiB"
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "header" in message and "limit" in message, message
    assert api.http.get(f"/networks/{network}/apps/{app}/releases").json() == []


def test_an_ordinary_archive_with_long_names_still_deploys(platform: Platform) -> None:
    """Long paths, as pax headers carry them, are what honest archives have."""
    api = new_api(platform)
    network, app = api.new_app()
    buffer = io.BytesIO()
    deep = "/".join(["d" * 60] * 8) + "/file.txt"
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, text in ((deep, b"deep"), ("Procfile", b"web: python3 -m http.server $PORT\n")):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    data = buffer.getvalue()
    response = api.upload(network, app, data, checksum=hashlib.sha256(data).hexdigest())
    assert response.status_code == 202, response.text
