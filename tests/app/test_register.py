"""/api/register under attack, over real HTTP on loopback: only this App's
own token is stored, one Saleor is one installation whatever its spelling,
and a posted Saleor-Api-Url cannot aim the App at internal addresses, hold
its threads, fill its database or probe ports."""

from __future__ import annotations

import base64
import threading
from urllib.parse import urlsplit

import pytest
import requests

from saleor_cryptopay.app.models import Installation
from saleor_cryptopay.app.views import allowed

from .fake_saleor import APP_ID, IDENTIFIER, OTHER_TOKEN, TOKEN, FakeSaleor
from .hostile_servers import DrippingServer, closed_port
from .test_install_and_auth import GATEWAY_INIT, gateway_payload


def register(app: str, api_url: str, token: str = TOKEN, timeout: float = 60) -> requests.Response:
    return requests.post(
        f"{app}/api/register",
        json={"auth_token": token},
        headers={"Saleor-Api-Url": api_url, "Saleor-Domain": "127.0.0.1"},
        timeout=timeout,
    )


def port_of(saleor: FakeSaleor) -> int:
    return saleor.httpd.server_address[1]


# -- only this App's own installation ----------------------------------------


def test_another_apps_token_does_not_replace_the_installation(installed, app, saleor, hook):
    response = register(app, saleor.api_url, OTHER_TOKEN)
    assert response.status_code == 403
    inst = Installation.objects.get()
    assert inst.app_id == APP_ID and inst.token == TOKEN
    # payments still work: webhooks are addressed to this App's id
    assert hook(GATEWAY_INIT, gateway_payload()).status_code == 200


def test_a_working_installation_is_kept_and_a_reinstall_replaces_it(installed, app, saleor):
    # a second installation of the same manifest while the first still works
    second_id, second_token = base64.b64encode(b"App:43").decode(), "second-" + "z" * 30
    saleor.apps[second_token] = (second_id, IDENTIFIER)
    assert register(app, saleor.api_url, second_token).status_code == 409
    inst = Installation.objects.get()
    assert inst.app_id == APP_ID and inst.token == TOKEN
    # a reinstall: Saleor gives a new app id, and the old token stops working
    new_id, new_token = base64.b64encode(b"App:44").decode(), "reinstalled-" + "w" * 30
    saleor.reinstall(new_token, new_id)
    assert register(app, saleor.api_url, new_token).status_code == 200
    inst = Installation.objects.get()
    assert inst.app_id == new_id and inst.token == new_token


@pytest.mark.parametrize(
    "spelling",
    [
        "http://localhost:{port}/graphql/",
        "http://127.0.0.1:{port}/graphql",
        "HTTP://LocalHost:{port}/graphql//",
        "http://127.0.0.1:{port}/graphql/?x=1",
    ],
)
def test_the_same_saleor_spelled_otherwise_is_the_same_installation(
    installed, app, saleor, hook, spelling
):
    other_spelling = spelling.format(port=port_of(saleor))
    assert register(app, other_spelling, OTHER_TOKEN).status_code == 403
    assert register(app, other_spelling, TOKEN).status_code == 200
    inst = Installation.objects.get()
    assert inst.saleor_api_url == saleor.api_url and inst.app_id == APP_ID
    # Saleor's webhooks name it either way
    headers = {"Saleor-Api-Url": other_spelling}
    assert hook(GATEWAY_INIT, gateway_payload(), headers=headers).status_code == 200


# -- ALLOWED_SALEOR_URLS: parsed, not a text prefix ---------------------------


def test_an_allowed_url_does_not_let_in_a_lookalike(app, saleor, settings):
    evil = FakeSaleor().start()
    try:
        good = f"http://127.0.0.1:{port_of(saleor)}"
        settings.ALLOWED_SALEOR_URLS = [good]
        lookalike = f"{good}@127.0.0.1:{port_of(evil)}/graphql/"
        response = register(app, lookalike)
        assert response.status_code in (400, 403)
        assert not evil.calls and not Installation.objects.exists()
        assert register(app, saleor.api_url).status_code == 200
    finally:
        evil.stop()


@pytest.mark.parametrize(
    ("entry", "api_url", "expected"),
    [
        ("https://shop.example.com", "https://shop.example.com/graphql/", True),
        ("https://shop.example.com", "https://SHOP.example.com:443/graphql", True),
        ("https://shop.example.com/graphql/", "https://shop.example.com/graphql/", True),
        ("https://shop.example.com", "https://shop.example.com.evil.net/graphql/", False),
        ("https://shop.example.com", "https://shop.example.com@evil.net/graphql/", False),
        ("https://shop.example.com", "http://shop.example.com/graphql/", False),
        ("https://shop.example.com", "https://shop.example.com:8443/graphql/", False),
        ("https://shop.example.com:8", "https://shop.example.com:8443/graphql/", False),
        ("https://shop.example.com/graphql", "https://shop.example.com/graphql-evil/", False),
        ("https://shop.example.com/a/graphql/", "https://shop.example.com/graphql/", False),
    ],
)
def test_allowed_matches_scheme_host_port_and_path(settings, entry, api_url, expected):
    from saleor_cryptopay.app.saleor_api import normalise_api_url

    settings.ALLOWED_SALEOR_URLS = [entry]
    assert allowed(normalise_api_url(api_url)) is expected


# -- where the App may call ---------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/graphql/",
        "http://localhost:{port}/graphql/",
        "http://[::1]:{port}/graphql/",
        "http://2130706433:{port}/graphql/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1:{port}/graphql/",
        "http://169.254.169.254/graphql/",  # cloud metadata
        "http://10.0.0.1:{port}/graphql/",
        "http://[::ffff:127.0.0.1]:{port}/graphql/",
    ],
)
def test_local_targets_are_refused_unless_allowed(app, saleor, settings, target):
    settings.ALLOW_LOCAL_SALEOR = False
    response = register(app, target.format(port=port_of(saleor)), timeout=30)
    assert response.status_code == 403
    assert "ALLOW_LOCAL_SALEOR" in response.json()["error"]["message"]
    assert not saleor.calls and not saleor.jwks_fetches
    assert not Installation.objects.exists()


def test_errors_do_not_tell_an_open_port_from_a_closed_one(app):
    # both are loopback ports of this machine (allowed in tests): the App's own
    # port answers, but not as Saleor; nothing listens on the other
    answers = [
        register(app, f"http://127.0.0.1:{port}/graphql/")
        for port in (urlsplit(app).port, closed_port())
    ]
    assert [a.status_code for a in answers] == [503, 503]
    assert answers[0].json() == answers[1].json()
    assert not Installation.objects.exists()


# -- deadlines, sizes and bounds -----------------------------------------------


def test_hostile_register_bodies_get_a_clear_400(app, saleor):
    """JSON nested 100 000 deep made json.loads raise RecursionError (a 500);
    a body far larger than any token is refused unread."""
    headers = {"Saleor-Api-Url": saleor.api_url, "Content-Type": "application/json"}
    for body in ("[" * 100_000 + "]" * 100_000, '{"auth_token": "' + "x" * 200_000 + '"}'):
        response = requests.post(f"{app}/api/register", data=body, headers=headers, timeout=60)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"]
    assert not saleor.calls and not Installation.objects.exists()


def test_a_dripping_saleor_cannot_hold_the_register_request(app, settings):
    settings.SALEOR_CALL_DEADLINE = 2
    with DrippingServer(interval=0.5) as drip:
        response = register(app, drip.url)  # the client waits up to 60 s
        assert response.status_code == 503
        # the App closed its connection when it gave up
        assert drip.wait_all_closed() and drip.connections == 1


def test_registrations_beyond_the_bound_are_turned_away_at_once(app, settings):
    settings.SALEOR_CALL_DEADLINE = 60
    with DrippingServer(interval=0.5) as drip:
        held = [threading.Thread(target=register, args=(app, drip.url)) for _ in range(2)]
        for thread in held:
            thread.start()
        try:
            assert drip.wait_for_open(2)
            third = register(app, drip.url, timeout=20)
            assert third.status_code == 503
            assert requests.get(f"{app}/api/manifest", timeout=20).status_code == 200
            assert drip.connections == 2
        finally:
            drip.stop()  # the held registrations end
            for thread in held:
                thread.join(30)


def test_a_huge_jwks_is_not_stored(app, saleor):
    saleor.jwks_padding = 2 * 1024 * 1024
    response = register(app, saleor.api_url)
    assert response.status_code == 503
    assert not Installation.objects.exists()


def test_the_number_of_installations_is_bounded(app, saleor, settings):
    settings.MAX_SALEOR_INSTALLATIONS = 2
    others = [FakeSaleor().start() for _ in range(2)]
    try:
        assert register(app, saleor.api_url).status_code == 200
        assert register(app, others[0].api_url).status_code == 200
        assert register(app, others[1].api_url).status_code == 403
        assert Installation.objects.count() == 2
        # an installed Saleor may still register again (a reinstall)
        assert register(app, saleor.api_url).status_code == 200
    finally:
        for other in others:
            other.stop()


def test_installations_stored_before_are_renamed_to_the_canonical_url(db):
    from importlib import import_module

    from django.apps import apps

    from saleor_cryptopay.models import Invoice

    migration = import_module("saleor_cryptopay.app.migrations.0003_canonical_saleor_urls")
    old = "http://LOCALHOST:8000/graphql"
    inst = Installation(saleor_api_url=old, app_id=APP_ID)
    inst.set_token(TOKEN)
    inst.save()
    invoice = Invoice.objects.create(
        provider="coinpay24", channel_slug="main", provider_invoice_id="inv-1",
        amount="10.00", currency="USD", status="new", saleor_api_url=old,
    )  # fmt: skip
    migration.canonicalise(apps, None)
    canonical = "http://127.0.0.1:8000/graphql/"
    assert Installation.objects.get().saleor_api_url == canonical
    invoice.refresh_from_db()
    assert invoice.saleor_api_url == canonical


def test_check_names_a_saleor_in_any_spelling(configure, saleor):
    from saleor_cryptopay.app.checks import check_all

    config = configure()
    spelled = f"http://LOCALHOST:{port_of(saleor)}/graphql"
    assert [c.pk for c, _ in check_all(saleor_api_url=spelled)] == [config.pk]
