"""Every GraphQL document the code sends or the README shows, validated
against Saleor's own schema of each version it must work on (no Saleor needed).

Documents are found, not listed: every string constant in ``saleor_cryptopay``
that reads as an operation, the App manifest's subscriptions and every
```` ```graphql ```` block of the README. A document that needs a newer Saleor
says so in a comment line ``# saleor>=3.22``, and the older versions must
refuse it (else the marker is stale): the code that sends it chooses it by
the version Saleor reports. The schema files come from ``tests/saleor_schema.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ..saleor_schema import SCHEMA_DIR, VERSIONS, schema

# Saleor's virtualenvs have graphql-core 2, which cannot read the schema files
graphql = pytest.importorskip(
    "graphql", minversion="3.1", reason="needs graphql-core 3 (the [schemas] extra)"
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "saleor_cryptopay"

# each schema's Saleor version, oldest first; the App and the plugin support all four
ORDER = {"3.20": (3, 20), "3.22": (3, 22), "3.23": (3, 23), "main": (3, 24)}
assert set(ORDER) == set(VERSIONS)
_OPERATION = re.compile(r"^\s*(?:#[^\n]*\n\s*)*(query|mutation|subscription)\b\s*\w*\s*[({]")
_MINIMUM = re.compile(r"#\s*saleor>=(\d+)\.(\d+)")
needs_schemas = pytest.mark.skipif(
    not all((SCHEMA_DIR / name).is_file() for name in VERSIONS.values()),
    reason=f"no Saleor schemas at {SCHEMA_DIR}",
)


def minimum_version(document: str) -> tuple[int, int]:
    found = _MINIMUM.search(document)
    return (int(found.group(1)), int(found.group(2))) if found else (3, 20)


def code_documents() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        # pieces of f-strings are not documents (the manifest's are built whole below)
        pieces = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in pieces
                and _OPERATION.match(node.value)
            ):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.value))
    return found


def manifest_documents() -> list[tuple[str, str]]:
    from saleor_cryptopay.app.manifest import manifest

    hooks = manifest("https://app.example")["webhooks"]
    return [(f"manifest webhook {hook['name']}", hook["query"]) for hook in hooks]


def readme_documents() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    blocks = re.finditer(r"```graphql\n(.*?)\n\s*```", text, re.S)
    return [
        (f"README.md:{text.count(chr(10), 0, block.start()) + 1}", block.group(1))
        for block in blocks
    ]


DOCUMENTS = code_documents() + manifest_documents() + readme_documents()


def test_documents_are_found():
    """The collectors above cannot silently find nothing."""
    wheres = [where for where, _ in DOCUMENTS]
    assert any(w.startswith("saleor_cryptopay/app/saleor_api.py") for w in wheres)
    assert sum(w.startswith("manifest webhook") for w in wheres) >= 5
    assert sum(w.startswith("README.md") for w in wheres) >= 4


def test_no_document_is_built_at_run_time_outside_the_manifest():
    """An f-string document could not be validated here: keep them constants."""
    built = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "manifest.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if isinstance(head, ast.Constant) and _OPERATION.match(str(head.value) + "{"):
                    built.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert built == []


@needs_schemas
@pytest.mark.parametrize("version", list(ORDER))
@pytest.mark.parametrize(("where", "document"), DOCUMENTS, ids=[w for w, _ in DOCUMENTS])
def test_document_validates(version: str, where: str, document: str):
    errors = graphql.validate(schema(version), graphql.parse(document))
    if ORDER[version] < minimum_version(document):
        # the marker is true: this Saleor refuses it, so the code must choose by version
        assert errors, f"{where} says saleor>={minimum_version(document)} but {version} takes it"
    else:
        assert [e.message for e in errors] == [], f"{where} on {version}"


def test_some_documents_need_a_newer_saleor():
    """The refusals above are exercised: the App's 3.22-only documents are found."""
    newer = [where for where, document in DOCUMENTS if minimum_version(document) > (3, 20)]
    assert sum(w.startswith("saleor_cryptopay/app/problems.py") for w in newer) == 2
    assert any(w.startswith("saleor_cryptopay/app/saleor_api.py") for w in newer)


@needs_schemas
def test_the_validator_refuses_what_saleor_refuses():
    """The check itself can fail: an undeclared variable and an unknown field."""
    bad = [
        "mutation { checkoutComplete(id: $checkoutId) { order { id } } }",
        "query { shop { noSuchField } }",
    ]
    for document in bad:
        assert graphql.validate(schema("3.20"), graphql.parse(document))


def test_the_app_query_asks_for_the_identifier():
    """Registration compares it with the manifest id: without it any app's token passes."""
    from saleor_cryptopay.app import saleor_api

    document = graphql.parse(saleor_api.APP_QUERY)
    app = document.definitions[0].selection_set.selections[0]
    assert {f.name.value for f in app.selection_set.selections} == {"id", "identifier"}
