"""Every GraphQL document the code sends or the README shows, validated
against Saleor's own schema of each version it must work on (no Saleor needed).

Documents are found, not listed: every string constant in ``saleor_cryptopay``
that reads as an operation, the App manifest's subscriptions and every
```` ```graphql ```` block of the README. A document that needs a newer Saleor
says so in a comment line ``# saleor>=3.22``; the code that sends it must
choose it by the version Saleor reports.
"""

from __future__ import annotations

import ast
import os
import re
from functools import cache
from pathlib import Path

import pytest

# Saleor's virtualenvs have graphql-core 2, which cannot read the schema files
graphql = pytest.importorskip(
    "graphql", minversion="3.1", reason="needs graphql-core 3 (the [schemas] extra)"
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "saleor_cryptopay"
SCHEMAS = Path(os.environ.get("SALEOR_SCHEMA_DIR") or ROOT.parent / "shared" / "saleor-schema")

# schema file → version, oldest first; the App and the plugin support all four
VERSIONS = {
    "3.20.119.graphql": (3, 20),
    "3.22.67.graphql": (3, 22),
    "3.23.28.graphql": (3, 23),
    "main-723cd4e.graphql": (3, 24),
}
_OPERATION = re.compile(r"^\s*(?:#[^\n]*\n\s*)*(query|mutation|subscription)\b\s*\w*\s*[({]")
_MINIMUM = re.compile(r"#\s*saleor>=(\d+)\.(\d+)")


@cache
def schema(name: str):
    return graphql.build_schema((SCHEMAS / name).read_text())


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


@pytest.mark.skipif(not SCHEMAS.is_dir(), reason=f"no Saleor schemas at {SCHEMAS}")
@pytest.mark.parametrize("schema_file", list(VERSIONS))
@pytest.mark.parametrize(("where", "document"), DOCUMENTS, ids=[w for w, _ in DOCUMENTS])
def test_document_validates(schema_file: str, where: str, document: str):
    if VERSIONS[schema_file] < minimum_version(document):
        pytest.skip(f"{where} needs Saleor {minimum_version(document)}")
    errors = graphql.validate(schema(schema_file), graphql.parse(document))
    assert [e.message for e in errors] == [], f"{where} on {schema_file}"


def test_the_validator_refuses_what_saleor_refuses():
    """The check itself can fail: an undeclared variable and an unknown field."""
    bad = [
        "mutation { checkoutComplete(id: $checkoutId) { order { id } } }",
        "query { shop { noSuchField } }",
    ]
    for document in bad:
        assert graphql.validate(schema("3.20.119.graphql"), graphql.parse(document))


def test_the_app_query_asks_for_the_identifier():
    """Registration compares it with the manifest id: without it any app's token passes."""
    from saleor_cryptopay.app import saleor_api

    document = graphql.parse(saleor_api.APP_QUERY)
    app = document.definitions[0].selection_set.selections[0]
    assert {f.name.value for f in app.selection_set.selections} == {"id", "identifier"}
