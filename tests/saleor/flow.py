"""What a storefront does, in GraphQL, plus the provider's side via the sandbox."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from saleor.graphql.core.utils import to_global_id_or_none
from saleor.graphql.tests.utils import get_graphql_content

GATEWAYS_QUERY = """
query Gateways($id: ID) {
  checkout(id: $id) { availablePaymentGateways { id name currencies config { field value } } }
}
"""

PAYMENT_CREATE = """
mutation Pay($id: ID, $input: PaymentInput!) {
  checkoutPaymentCreate(id: $id, input: $input) {
    payment { id chargeStatus }
    errors { field code message }
  }
}
"""

COMPLETE = """
mutation Complete($id: ID) {
  checkoutComplete(id: $id) {
    order { id status paymentStatus isPaid total { gross { amount currency } } }
    confirmationNeeded
    confirmationData
    errors { field code message }
  }
}
"""


def gateways(client, checkout) -> list[dict]:
    content = get_graphql_content(
        client.post_graphql(GATEWAYS_QUERY, {"id": to_global_id_or_none(checkout)})
    )
    return content["data"]["checkout"]["availablePaymentGateways"]


def create_payment(client, checkout, gateway: str, amount, return_url=None) -> dict:
    data = {"gateway": gateway, "amount": str(amount)}
    if return_url:
        data["returnUrl"] = return_url
    content = get_graphql_content(
        client.post_graphql(PAYMENT_CREATE, {"id": to_global_id_or_none(checkout), "input": data})
    )
    result = content["data"]["checkoutPaymentCreate"]
    assert not result["errors"], result["errors"]
    return result["payment"]


def complete(client, checkout) -> dict:
    content = get_graphql_content(
        client.post_graphql(COMPLETE, {"id": to_global_id_or_none(checkout)})
    )
    return content["data"]["checkoutComplete"]


def confirmation(result: dict) -> dict:
    assert result["confirmationNeeded"] is True, result
    assert result["order"] is None
    return json.loads(result["confirmationData"])


def callback_path(plugin_id: str, channel_slug: str = "main") -> str:
    return f"/plugins/channel/{channel_slug}/{plugin_id}/callback"


def deliver(django_client, sb, provider: str, invoice_id, plugin_id: str, *, index: int = -1):
    """Post the callback the sandbox sent (or tried to send) for the invoice,
    fields exactly as signed, to the plugin's per-channel URL."""
    deliveries = sb.callbacks(provider, invoice_id)
    assert deliveries, f"the sandbox sent no callback for {invoice_id}"
    fields = deliveries[index]["fields"]
    pairs = list(fields.items()) if isinstance(fields, dict) else [tuple(p) for p in fields]
    return post_form(django_client, plugin_id, pairs)


def post_form(django_client, plugin_id: str, pairs, channel_slug: str = "main"):
    return django_client.post(
        callback_path(plugin_id, channel_slug),
        data=urlencode(pairs),
        content_type="application/x-www-form-urlencoded",
    )


def start(client, checkout, plugin_id: str, amount, return_url="https://www.example.com/return"):
    """checkoutPaymentCreate + checkoutComplete: the invoice data to pay."""
    create_payment(client, checkout, plugin_id, amount, return_url)
    return confirmation(complete(client, checkout))


def callback_pairs(sb, provider: str, invoice_id, *, index: int = -1) -> list[tuple[str, str]]:
    """The fields of a callback the sandbox sent, in order, as signed."""
    deliveries = sb.callbacks(provider, invoice_id)
    assert deliveries, f"the sandbox sent no callback for {invoice_id}"
    fields = deliveries[index]["fields"]
    return list(fields.items()) if isinstance(fields, dict) else [tuple(p) for p in fields]


def deliver_new(django_client, sb, provider: str, invoice_id, plugin_id: str, *, seen: int):
    """Deliver, in order, the callbacks queued since the first ``seen`` ones;
    returns the responses and the new count of callbacks seen."""
    deliveries = sb.callbacks(provider, invoice_id)
    assert len(deliveries) > seen, f"no new callback for {invoice_id}"
    responses = [
        deliver(django_client, sb, provider, invoice_id, plugin_id, index=i)
        for i in range(seen, len(deliveries))
    ]
    return responses, len(deliveries)


def edited(pairs, **changes) -> list[tuple[str, str]]:
    """The pairs with some values replaced (None drops the field)."""
    out = []
    for key, value in pairs:
        if key in changes:
            if changes[key] is None:
                continue
            value = changes[key]
        out.append((key, value))
    return out


def order_messages(order) -> list[str]:
    return [e.parameters.get("message") or "" for e in order.events.all()]


LINES_ADD = """
mutation Add($id: ID, $lines: [CheckoutLineInput!]!) {
  checkoutLinesAdd(id: $id, lines: $lines) {
    checkout { totalPrice { gross { amount } } }
    errors { field code message }
  }
}
"""


def add_line(client, checkout, variant, quantity: int = 1) -> None:
    variables = {
        "id": to_global_id_or_none(checkout),
        "lines": [
            {
                "variantId": to_global_id_or_none(variant),
                "quantity": quantity,
                "forceNewLine": True,
            }
        ],
    }
    content = get_graphql_content(client.post_graphql(LINES_ADD, variables))
    result = content["data"]["checkoutLinesAdd"]
    assert not result["errors"], result["errors"]


PLUGIN_UPDATE = """
mutation Update($id: ID!, $channelId: ID, $input: PluginUpdateInput!) {
  pluginUpdate(id: $id, channelId: $channelId, input: $input) {
    plugin { id channelConfigurations { active channel { slug } } }
    errors { field code message }
  }
}
"""


def plugin_update(staff_client, plugin_id: str, channel, *, active=None, **values) -> list[dict]:
    """pluginUpdate as the Dashboard sends it; returns the errors."""
    data: dict = {"configuration": [{"name": k, "value": v} for k, v in values.items()]}
    if active is not None:
        data["active"] = active
    variables = {"id": plugin_id, "channelId": to_global_id_or_none(channel), "input": data}
    content = get_graphql_content(staff_client.post_graphql(PLUGIN_UPDATE, variables))
    return content["data"]["pluginUpdate"]["errors"]


DELIVERY_UPDATE = """
mutation Delivery($id: ID, $method: ID) {
  checkoutDeliveryMethodUpdate(id: $id, deliveryMethodId: $method) {
    checkout { id }
    errors { field code message }
  }
}
"""


def set_delivery(client, checkout, shipping_method) -> None:
    variables = {
        "id": to_global_id_or_none(checkout),
        "method": to_global_id_or_none(shipping_method),
    }
    content = get_graphql_content(client.post_graphql(DELIVERY_UPDATE, variables))
    result = content["data"]["checkoutDeliveryMethodUpdate"]
    assert not result["errors"], result["errors"]
