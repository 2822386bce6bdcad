"""Configuration as the Dashboard saves it: pluginUpdate as staff, which runs
the plugin's validate_plugin_configuration."""

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from graphene.utils.str_converters import to_camel_case  # noqa: E402
from saleor.graphql.core.utils import to_global_id_or_none  # noqa: E402
from saleor.graphql.tests.utils import assert_no_permission  # noqa: E402
from saleor.plugins.models import PluginConfiguration  # noqa: E402

from .flow import PLUGIN_UPDATE, plugin_update  # noqa: E402

pytestmark = pytest.mark.django_db

PROVIDERS = ["coinpay24", "coinpay_th"]
CREDENTIALS = {"coinpay24": ("api_key",), "coinpay_th": ("api_key", "api_secret")}


@pytest.fixture
def staff(staff_api_client, permission_manage_plugins):
    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    return staff_api_client


def credentials(provider, sb) -> dict:
    if provider == "coinpay24":
        return {"api_key": sb.coinpay24_api_key}
    return {"api_key": sb.coinpay_th_key, "api_secret": sb.coinpay_th_secret}


def saved(plugin, channel):
    return PluginConfiguration.objects.filter(identifier=plugin.PLUGIN_ID, channel=channel).first()


def codes(errors) -> dict:
    """Error codes by configuration field name (the API camel-cases them)."""
    snake = {to_camel_case(name): name for name in (*CREDENTIALS["coinpay_th"], *FIELDS)}
    return {snake.get(e["field"], e["field"]): e["code"] for e in errors}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_activating_without_credentials_is_refused(
    provider, crypto_plugins, staff, channel_USD, sb
):
    plugin = crypto_plugins[provider]
    errors = plugin_update(staff, plugin.PLUGIN_ID, channel_USD, active=True)
    assert codes(errors) == {name: "REQUIRED" for name in CREDENTIALS[provider]}
    row = saved(plugin, channel_USD)
    assert row is None or not row.active


@pytest.mark.parametrize("provider", PROVIDERS)
def test_blank_credentials_are_refused(provider, crypto_plugins, staff, channel_USD, sb):
    plugin = crypto_plugins[provider]
    blank = {name: "  " for name in CREDENTIALS[provider]}
    errors = plugin_update(staff, plugin.PLUGIN_ID, channel_USD, active=True, **blank)
    assert codes(errors) == {name: "REQUIRED" for name in CREDENTIALS[provider]}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_inactive_configuration_without_credentials_is_accepted(
    provider, crypto_plugins, staff, channel_USD, sb
):
    plugin = crypto_plugins[provider]
    errors = plugin_update(
        staff, plugin.PLUGIN_ID, channel_USD, active=False, underpaid_tolerance_percent="50"
    )
    assert errors == []
    row = saved(plugin, channel_USD)
    assert row is not None and not row.active


@pytest.mark.parametrize("provider", PROVIDERS)
def test_complete_configuration_is_saved_active(provider, crypto_plugins, staff, channel_USD, sb):
    plugin = crypto_plugins[provider]
    errors = plugin_update(
        staff,
        plugin.PLUGIN_ID,
        channel_USD,
        active=True,
        api_base_url=sb.coinpay24_base if provider == "coinpay24" else sb.coinpay_th_base,
        underpaid_tolerance_percent="1.5",
        order_creation="before_payment",
        invoice_title="Order {reference} ({amount} {currency})",
        **credentials(provider, sb),
    )
    assert errors == []
    row = saved(plugin, channel_USD)
    values = {item["name"]: item["value"] for item in row.configuration}
    assert row.active
    assert values["order_creation"] == "before_payment"
    assert values["underpaid_tolerance_percent"] == "1.5"


FIELDS = (
    "underpaid_tolerance_percent",
    "order_creation",
    "invoice_title",
    "invoice_description",
    "api_base_url",
    "supported_currencies",
    "action_names",
    "keep_percent",
)
INVALID = [
    ("underpaid_tolerance_percent", "11"),
    ("underpaid_tolerance_percent", "-1"),
    ("underpaid_tolerance_percent", "a lot"),
    ("underpaid_tolerance_percent", "NaN"),
    ("order_creation", "sometimes"),
    ("invoice_title", "Order {order_number}"),
    ("invoice_title", "Order {reference"),
    ("invoice_description", "{reference.__class__}"),
    ("api_base_url", "ftp://example.com"),
    ("supported_currencies", "US Dollar"),
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("field", "value"), INVALID)
def test_invalid_values_are_refused(provider, field, value, crypto_plugins, staff, channel_USD, sb):
    plugin = crypto_plugins[provider]
    config = {**credentials(provider, sb), field: value}
    errors = plugin_update(staff, plugin.PLUGIN_ID, channel_USD, active=True, **config)
    assert codes(errors) == {field: "INVALID"}, errors
    row = saved(plugin, channel_USD)
    assert row is None or not row.active


@pytest.mark.parametrize(("field", "value"), [("action_names", "v2"), ("keep_percent", "101")])
def test_coinpay_th_specific_values_are_checked(
    field, value, crypto_plugins, staff, channel_USD, sb
):
    plugin = crypto_plugins["coinpay_th"]
    config = {**credentials("coinpay_th", sb), field: value}
    errors = plugin_update(staff, plugin.PLUGIN_ID, channel_USD, active=True, **config)
    assert codes(errors) == {field: "INVALID"}, errors


def test_staff_without_permission_cannot_update(crypto_plugins, staff_api_client, channel_USD):
    response = staff_api_client.post_graphql(
        PLUGIN_UPDATE,
        {
            "id": crypto_plugins["coinpay24"].PLUGIN_ID,
            "channelId": to_global_id_or_none(channel_USD),
            "input": {"active": True},
        },
    )
    assert_no_permission(response)
