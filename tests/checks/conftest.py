import ssl

import pytest

from saleor_cryptopay.sandbox import SandboxServer


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(port=0, time_scale=0.0005) as sb:
        yield sb


@pytest.fixture(scope="session")
def ca():
    """A certificate authority no public CA bundle knows (as a self-signed
    certificate would be): its server certificates are refused by default."""
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="session")
def tls(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context
