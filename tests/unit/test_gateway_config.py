"""The core settings rules both editions use (the plugin's Saleor-side tests
check the same rules through the Dashboard's mutation)."""

from decimal import Decimal

import pytest

from saleor_cryptopay.gateway_config import (
    DEFAULT_TITLE,
    INVALID,
    REQUIRED,
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
        {"name": "invoice_title", "value": "Order {reference}"},
        {"name": "invoice_description", "value": "Payment {reference} in {channel}"},
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
    assert render(template, reference="R1") == DEFAULT_TITLE.format(reference="R1")


def test_plain_templates_still_render():
    assert validate("coinpay24", {**VALID, "invoice_title": "{{x}} {reference}/{channel}"}) == {}
    assert render("{{x}} {reference}/{channel}", reference="R1", channel="c") == "{x} R1/c"
