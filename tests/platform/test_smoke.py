import httpx

from tests.support.platform import Platform


def test_health_and_login(platform: Platform) -> None:
    r = httpx.get(f"{platform.url}/api/v1/health")
    health = r.json()
    assert health.pop("isolation") == platform.isolation
    assert health.pop("limits")["mode"].startswith("cgroup v")  # root here: cgroups writable
    assert health.pop("router")["mode"] == "haproxy"  # installed by scripts/install-system-deps
    assert health.pop("runtime")["name"] == "process"  # the default driver
    assert health == {
        "status": "ok",
        "version": "1.0.0",
        "platform": "maxlocal",
        "domain": "localhost",
        "max_upload_bytes": 1024**3,
    }
    creds = platform.bootstrap()
    r = httpx.post(f"{platform.url}/api/v1/auth/login", json=creds)
    assert r.status_code == 200
    assert r.json()["user"]["email"] == "admin@max.local"
    user = platform.add_user("bob@example.com")
    r = httpx.get(f"{platform.url}/api/v1/me", headers={"Authorization": f"Bearer {user['token']}"})
    assert r.json()["email"] == "bob@example.com"
    port = platform.port
    platform.restart()
    assert platform.port == port
    assert httpx.get(f"{platform.url}/api/v1/health").status_code == 200
    assert platform.stop() == 0
    assert not (platform.data_dir / "server.json").exists()
