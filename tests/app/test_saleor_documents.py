"""Every GraphQL document the App sends, validated against Saleor's schema of
each version it runs on (../shared/saleor-schema); the 3.22-only documents
are shown to be refused by 3.20, which is why the App chooses by version."""

from __future__ import annotations

import pytest

from saleor_cryptopay.app import problems, saleor_api
from saleor_cryptopay.app.manifest import ASYNC_SUBSCRIPTIONS, SUBSCRIPTIONS

from ..saleor_schema import VERSIONS, errors, needs_schemas

pytestmark = needs_schemas

EVERYWHERE = {
    **{f"subscription {event}": query for event, (_, query) in SUBSCRIPTIONS.items()},
    **{f"subscription {event}": query for event, (_, query) in ASYNC_SUBSCRIPTIONS.items()},
    "app id": "query { app { id } }",
    "transactionEventReport": saleor_api.REPORT_MUTATION,
    "checkoutComplete": saleor_api.COMPLETE_MUTATION,
}
FROM_322 = {
    "transactionEventReport with paymentMethodDetails": saleor_api.REPORT_WITH_METHOD_MUTATION,
    "appProblemCreate": problems.CREATE,
    "appProblemDismiss": problems.DISMISS,
}


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("name", list(EVERYWHERE))
def test_document_valid_on_every_version(name, version):
    assert errors(EVERYWHERE[name], version) == []


@pytest.mark.parametrize("version", ["3.22", "3.23", "main"])
@pytest.mark.parametrize("name", list(FROM_322))
def test_322_document_valid_from_322(name, version):
    assert errors(FROM_322[name], version) == []


@pytest.mark.parametrize("name", list(FROM_322))
def test_322_document_refused_by_320(name):
    assert errors(FROM_322[name], "3.20")
