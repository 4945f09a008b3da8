"""schemathesis against the real platform's OpenAPI document, as a logged-in user:
no 500s, and every answer matches the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.reliability.figures import Figures
from tests.support.platform import Platform, PlatformFactory

EXAMPLES_PER_OPERATION = 30
# Opaque credentials (device codes) cannot be guessed, so a schema-valid one is refused with
# RFC 8628's 400: "valid data is accepted" does not apply to them.
CREDENTIAL_EXCHANGES = ("/api/v1/auth/device/token",)

schemathesis.serializer.alias("application/gzip", "application/octet-stream")


@pytest.fixture(scope="module")
def fuzzed_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, str]]:
    factory = PlatformFactory(tmp_path_factory.mktemp("schemathesis"))
    platform = factory()
    token = platform.add_user("fuzz@example.com")["token"]
    yield platform, token
    factory.stop_all()


def fuzz(operation: Any, token: str, figures: Figures, failures: dict[str, str]) -> None:
    """Run generated cases of one operation; a failing check is noted and the run goes on."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: schemathesis.Case) -> None:
        figures.add("schemathesis_cases")
        response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if response.status_code >= 500:
            figures.add("schemathesis_500s")
        try:
            excluded = [positive_data_acceptance] if operation.path in CREDENTIAL_EXCHANGES else []
            case.validate_response(response, excluded_checks=excluded)
        except (AssertionError, FailureGroup) as exc:  # keep the first failure of each kind
            message = str(exc).strip().splitlines()
            key = f"{operation.label}: {message[0] if message else type(exc).__name__}"
            failures.setdefault(key, "\n".join(message[:12]))

    run()


def test_no_500s_and_answers_match_the_schema(
    fuzzed_platform: tuple[Platform, str], figures: Figures
) -> None:
    platform, token = fuzzed_platform
    schema = schemathesis.openapi.from_url(f"{platform.url}/api/v1/openapi.json")
    schema.config.update(base_url=platform.url)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        fuzz(operation, token, figures, failures)
    figures.set("schemathesis_operations", len(operations))
    figures.add("schema_mismatches", len(failures))
    assert not failures, "\n\n".join(failures.values())
