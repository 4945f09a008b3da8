"""The Homebrew formula and the RPM spec (packaging/) cannot be built here (no Homebrew on Linux;
an RPM built on Debian would carry Debian's library names): checked for syntax with the tools
this machine has (ruby -c, Debian's rpmspec), and for the version, which rig.__version__ owns."""

from __future__ import annotations

import re
import subprocess

from rig import __version__
from tests.support.cli import ROOT

PACKAGING = ROOT / "packaging"


def test_the_homebrew_formula_parses_and_names_this_version() -> None:
    formula = PACKAGING / "homebrew" / "maxrig.rb"
    checked = subprocess.run(["ruby", "-c", str(formula)], capture_output=True, text=True)
    assert (checked.returncode, checked.stdout.strip()) == (0, "Syntax OK"), checked.stderr
    urls = re.findall(r'^\s*url "(.+)"$', formula.read_text(), re.M)
    assert urls == [
        f"https://files.pythonhosted.org/packages/source/m/maxrig/maxrig-{__version__}.tar.gz"
    ]


def test_the_rpm_spec_parses_and_names_this_version() -> None:
    parsed = subprocess.run(
        ["rpmspec", "-P", str(PACKAGING / "rpm" / "maxrig.spec")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert parsed.returncode == 0, parsed.stderr
    fields = dict(re.findall(r"^(\w+):\s+(.+)$", parsed.stdout, re.M))
    assert (fields["Name"], fields["Version"]) == ("maxrig", __version__)
    assert fields["Source0"].startswith(f"rig-{__version__}-linux-")
    assert "ln -s /usr/lib/maxrig/rig" in parsed.stdout
    queried = subprocess.run(
        ["rpmspec", "-q", "--qf", "%{name} %{version}\n", str(PACKAGING / "rpm" / "maxrig.spec")],
        capture_output=True,
        text=True,
    )
    assert queried.stdout == f"maxrig {__version__}\n", queried.stderr
