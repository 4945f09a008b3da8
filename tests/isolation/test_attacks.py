"""Bob attacks alice and the platform from each kind of process the platform runs for him.

With ``--isolation none`` every attack must work (the attack is real and its check can fail);
with the sandbox every one must be refused. The verdict comes from the host's truth
(``verdicts.CHECKS``), not from the tenant's word.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.isolation.tenant.attack import attacks as tenant_attacks
from tests.isolation.verdicts import CHECKS, succeeded
from tests.isolation.world import CONTEXTS, World, report

ATTACKS = tuple(CHECKS)

NOT_YET_REFUSED: dict[str, str] = {}
"""attack -> why the sandbox does not refuse it yet (xfail, strict: it fails once refused)."""


def results(world: World, context: str) -> dict[str, dict[str, Any]]:
    """Each context's attacks run once per world; every attack's test reads its result (a
    context that could not run fails each of its tests at once, not once per attack)."""
    if context not in world.reports:
        try:
            world.reports[context] = report(world, context)
        except Exception as exc:
            world.reports[context] = {}
            raise AssertionError(f"bob's {context} could not run the attacks") from exc
    assert world.reports[context], f"bob's {context} could not run the attacks (see above)"
    return world.reports[context]


def test_every_attack_of_the_tenant_has_a_verdict() -> None:
    assert set(tenant_attacks({"files": {}}, "x")) == set(CHECKS)


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("attack", ATTACKS)
def test_attack(world: World, context: str, attack: str, request: pytest.FixtureRequest) -> None:
    result = results(world, context)[attack]
    got_through = succeeded(world, context, attack, result)
    if world.mode == "none":
        assert got_through, f"without the sandbox the attack should work, but: {result}"
        return
    if attack in NOT_YET_REFUSED:
        request.applymarker(pytest.mark.xfail(strict=True, reason=NOT_YET_REFUSED[attack]))
    assert not got_through, f"the sandbox let {attack} through from bob's {context}: {result}"
