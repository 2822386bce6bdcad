"""Every GraphQL document the App sends to Saleor, or asks Saleor to run for
its webhooks, is valid against each Saleor schema it supports
(../shared/saleor-schema: 3.20, 3.22, 3.23 and main)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Saleor's virtualenvs have graphql-core 2, which cannot parse the schema files
graphql = pytest.importorskip(
    "graphql", minversion="3.1", reason="needs graphql-core 3 (the [schemas] extra)"
)

from saleor_cryptopay.app import saleor_api  # noqa: E402
from saleor_cryptopay.app.manifest import SUBSCRIPTIONS  # noqa: E402

SCHEMA_DIR = Path(
    os.environ.get("SALEOR_SCHEMA_DIR")
    or Path(__file__).resolve().parents[2].parent / "shared" / "saleor-schema"
)
SCHEMAS = sorted(SCHEMA_DIR.glob("*.graphql")) if SCHEMA_DIR.is_dir() else []

DOCUMENTS = {
    "AppIdentity": saleor_api.APP_QUERY,
    "Report": saleor_api.REPORT_MUTATION,
    "Complete": saleor_api.COMPLETE_MUTATION,
    **{event: query for event, (_, query) in SUBSCRIPTIONS.items()},
}

_built: dict[Path, object] = {}


def schema(path: Path):
    if path not in _built:
        _built[path] = graphql.build_schema(path.read_text())
    return _built[path]


@pytest.mark.skipif(not SCHEMAS, reason=f"no Saleor schemas in {SCHEMA_DIR}")
@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_is_valid_against_saleor(path, name):
    errors = graphql.validate(schema(path), graphql.parse(DOCUMENTS[name]))
    assert not errors, [e.message for e in errors]


def test_the_app_query_asks_for_the_identifier():
    # registration compares it with the manifest id: without it any app's token passes
    document = graphql.parse(saleor_api.APP_QUERY)
    app = document.definitions[0].selection_set.selections[0]
    assert {f.name.value for f in app.selection_set.selections} == {"id", "identifier"}
