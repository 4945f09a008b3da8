"""Where the runtime keeps an app's HOME, and that it goes with the app and its network."""

from __future__ import annotations

from pathlib import Path

from maxlocal.layout import Layout


def test_homes_are_made_on_use_and_removed_with_their_app_and_network(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    app, other = layout.home("shop", "api"), layout.home("shop", "web")
    network = layout.home("shop")
    assert app == tmp_path / "data" / "homes" / "apps" / "shop" / "api" and app.is_dir()
    assert network == tmp_path / "data" / "homes" / "networks" / "shop" and network.is_dir()
    layout.remove_app("shop", "api")
    assert not app.exists() and other.is_dir()
    layout.remove_network("shop")
    assert not other.exists() and not network.exists()


def test_the_cache_is_the_data_directorys_unless_given(tmp_path: Path) -> None:
    assert Layout(tmp_path).cache == tmp_path / "cache"
    assert Layout(tmp_path, tmp_path / "shared").cache == tmp_path / "shared"
