"""What a storefront does, in GraphQL, and the provider's callback POST: the
few steps the Saleor-side benchmarks need (kept here so the benchmarks do not
move with the test helpers)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from saleor.graphql.core.utils import to_global_id_or_none
from saleor.graphql.tests.utils import get_graphql_content

PAYMENT_CREATE = """
mutation Pay($id: ID, $input: PaymentInput!) {
  checkoutPaymentCreate(id: $id, input: $input) { payment { id } errors { field message } }
}
"""
COMPLETE = """
mutation Complete($id: ID) {
  checkoutComplete(id: $id) {
    order { id } confirmationNeeded confirmationData errors { field code message }
  }
}
"""


def create_payment(client, checkout, gateway: str, amount, return_url=None, token=None) -> None:
    data = {"gateway": gateway, "amount": str(amount)}
    if return_url:
        data["returnUrl"] = return_url
    if token:
        data["token"] = token
    variables = {"id": to_global_id_or_none(checkout), "input": data}
    content = get_graphql_content(client.post_graphql(PAYMENT_CREATE, variables))
    errors = content["data"]["checkoutPaymentCreate"]["errors"]
    assert not errors, errors


def complete(client, checkout) -> dict:
    response = client.post_graphql(COMPLETE, {"id": to_global_id_or_none(checkout)})
    return get_graphql_content(response)["data"]["checkoutComplete"]


def confirmation(result: dict) -> dict:
    assert result["confirmationNeeded"] is True and result["order"] is None, result
    return json.loads(result["confirmationData"])


def callback_path(plugin_id: str, channel_slug: str = "main") -> str:
    return f"/plugins/channel/{channel_slug}/{plugin_id}/callback"


def callback_pairs(sb, provider: str, invoice_id, index: int = -1) -> list[tuple[str, str]]:
    """The fields of a callback the sandbox sent (or tried to), as signed."""
    fields = sb.callbacks(provider, invoice_id)[index]["fields"]
    return list(fields.items()) if isinstance(fields, dict) else [tuple(p) for p in fields]


def post_form(django_client, plugin_id: str, pairs, channel_slug: str = "main"):
    return django_client.post(
        callback_path(plugin_id, channel_slug),
        data=urlencode(pairs),
        content_type="application/x-www-form-urlencoded",
    )
