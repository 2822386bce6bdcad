"""Saleor's GraphQL schemas (``../shared/saleor-schema/``, or the directory
``SALEOR_SCHEMA_DIR`` names) for validating the documents the project sends."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Optional

import pytest

SCHEMA_DIR = Path(
    os.environ.get("SALEOR_SCHEMA_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "saleor-schema"
)
VERSIONS = {
    "3.20": "3.20.119.graphql",
    "3.22": "3.22.67.graphql",
    "3.23": "3.23.28.graphql",
    "main": "main-723cd4e.graphql",
}


def available() -> bool:
    try:
        import graphql
    except ImportError:
        return False
    # Saleor's own virtualenvs: graphql-core 2, which has no version_info
    if getattr(graphql, "version_info", (2,)) < (3,):
        return False
    return all((SCHEMA_DIR / name).is_file() for name in VERSIONS.values())


needs_schemas = pytest.mark.skipif(
    not available(), reason=f"needs graphql-core and Saleor's schemas in {SCHEMA_DIR}"
)


@functools.cache
def schema(version: str):
    from graphql import build_schema

    return build_schema((SCHEMA_DIR / VERSIONS[version]).read_text())


def errors(document: str, version: str) -> list[str]:
    """Why Saleor ``version`` would refuse ``document`` (empty: it is valid)."""
    from graphql import parse, validate

    return [e.message for e in validate(schema(version), parse(document))]


def version_key(saleor_version: str) -> Optional[str]:
    """The shared schema nearest below a full Saleor version ("3.23.28" → "3.23")."""
    major_minor = ".".join(saleor_version.split(".")[:2])
    return major_minor if major_minor in VERSIONS else None
