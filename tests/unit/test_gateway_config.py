"""The core settings rules both editions use (the plugin's Saleor-side tests
check the same rules through the Dashboard's mutation)."""

from decimal import Decimal

import pytest

from saleor_cryptopay.gateway_config import (
    INVALID,
    REQUIRED,
    invoice_texts,
    parse_settings,
    problems,
    render,
    validate,
)
from saleor_cryptopay.plugin.config import COMMON_DEFAULTS

VALID = {"api_key": "k", "api_secret": "s", "supported_currencies": "USD,EUR"}


def test_problems_tell_missing_from_invalid_in_field_order():
    found = problems(
        "coinpay_th",
        {
            "supported_currencies": " , ",
            "underpaid_tolerance_percent": "11",
            "action_names": "other",
            "keep_percent": "101",
        },
    )
    assert list(found) == [
        "api_key",
        "api_secret",
        "supported_currencies",
        "underpaid_tolerance_percent",
        "action_names",
        "keep_percent",
    ]
    assert found["api_key"] == ("The parameter is required.", REQUIRED)
    assert found["supported_currencies"] == ("Name at least one currency.", REQUIRED)
    assert found["underpaid_tolerance_percent"] == ("Enter a percentage from 0 to 10.", INVALID)
    assert found["keep_percent"] == ("Enter a whole number from 0 to 100.", INVALID)
    assert validate("coinpay_th", VALID) == {}
    assert validate("coinpay24", {**VALID, "supported_currencies": "US1"}) == {
        "supported_currencies": "Use currency codes separated by commas, e.g. USD,EUR."
    }


def test_empty_currencies_fall_back_only_where_asked():
    assert parse_settings({}, "https://x").supported_currencies == ["USD"]
    plugin = parse_settings({"supported_currencies": ""}, "https://x", default_currencies="")
    assert plugin.supported_currencies == []
    assert plugin.underpaid_tolerance == Decimal(0)


def test_plugin_defaults_come_from_the_core():
    assert COMMON_DEFAULTS == [
        {"name": "supported_currencies", "value": "USD"},
        {"name": "order_creation", "value": "after_payment"},
        {"name": "underpaid_tolerance_percent", "value": "0"},
        {"name": "invoice_title", "value": "{shop}"},
        {"name": "invoice_description", "value": "Payment for {purchase}"},
        {"name": "reconcile_calls_per_run", "value": "20"},
        {"name": "callback_url", "value": ""},
        {"name": "setup_status", "value": ""},
    ]


@pytest.mark.parametrize(
    "template",
    ["{reference:>50000000}", "{amount:,}", "{reference!r}", "{amount:{reference}}", "Order {}"],
)
def test_templates_allow_plain_placeholders_only(template):
    """A format spec could render megabytes per invoice; ``{}`` fails at checkout."""
    for field in ("invoice_title", "invoice_description"):
        found = validate("coinpay24", {**VALID, field: template})
        assert "plain placeholders" in found[field], found
    # a value saved before this rule renders as the default, not 50 MB
    assert render(template, reference="R1", shop="Main Store") == "Main Store"


def test_plain_templates_still_render():
    assert validate("coinpay24", {**VALID, "invoice_title": "{{x}} {reference}/{channel}"}) == {}
    assert render("{{x}} {reference}/{channel}", reference="R1", channel="c") == "{x} R1/c"


TXN = "VHJhbnNhY3Rpb25JdGVtOjYyZjgzYjQ0LTk5ZGQtNGQ3Ni1hMjA2LTY4YTk4YzkwYjYwOQ=="


def test_default_invoice_texts_name_the_shop_and_the_purchase():
    settings = parse_settings({}, "https://x")
    texts = invoice_texts(settings, reference=TXN, channel="main", shop="Main Store",
                          checkout="4d657c5b-6511-4a7e-9c1d-2f0e0c1b2a3d")  # fmt: skip
    assert texts == ("Main Store", "Payment for checkout 4D657C5B")
    texts = invoice_texts(settings, reference=TXN, channel="main", shop="", order_number="1042")
    assert texts == ("main", "Payment for order #1042")  # no name: the slug, never an id


def test_the_old_default_templates_stored_by_saved_configurations_read_as_the_new():
    stored = {"invoice_title": "Order {reference}",
              "invoice_description": "Payment {reference} in {channel}"}  # fmt: skip
    texts = invoice_texts(parse_settings(stored, "https://x"), reference=TXN, channel="main",
                          shop="Main Store", order_number="7")  # fmt: skip
    assert texts == ("Main Store", "Payment for order #7")
    custom = parse_settings({"invoice_title": "Order {reference} at {shop}"}, "https://x")
    assert invoice_texts(custom, reference="R", channel="c", shop="S")[0] == "Order R at S"


def test_before_payment_is_refused_for_the_app_only():
    before = {**VALID, "order_creation": "before_payment"}
    assert validate("coinpay24", before) == {}
    refused = validate("coinpay24", before, app=True)
    assert "plugin edition only" in refused["order_creation"]
    assert validate("coinpay24", {**VALID, "order_creation": "after_payment"}, app=True) == {}
