# ruff: noqa: E501 - GraphQL documents read better unwrapped
"""By hand, against a running Saleor (not collected by pytest): install the
App with ``appInstall`` and pay a checkout end to end on the Transactions API.

    python -m tests.app.live_saleor_e2e --saleor http://127.0.0.1:18000/graphql/ \\
        --email admin@example.com --password admin --channel default-channel

Saleor must reach loopback (``HTTP_IP_FILTER_ALLOW_LOOPBACK_IPS=True``). The
script starts the sandbox (in process) and ``cryptopay-app serve`` (a real
process, SQLite in a temporary directory), installs the App, configures
CoinPay24 against the sandbox, then: checkout → paymentGatewayInitialize →
transactionInitialize → the sandbox pays → callback → transactionEventReport →
checkoutComplete by the App → the order exists, fully charged, once. Then 20
concurrent duplicate callbacks and a forged one change nothing, and a
callback missed while the App was down is recovered by ``cryptopay-app
reconcile``. It talks to Saleor over HTTP only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from cryptography.fernet import Fernet

from saleor_cryptopay.sandbox import SandboxServer
from tests.app_process import AppProcess, wait_for

ADDRESS = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "streetAddress1": "1470 Pinewood Avenue",
    "city": "Michigan",
    "postalCode": "49855",
    "country": "US",
    "countryArea": "MI",
    "phone": "+12025550123",
}


class Saleor:
    def __init__(self, url: str) -> None:
        self.url = url
        self.token = ""

    def gql(self, query: str, token: str | None = None, **variables) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = requests.post(
            self.url, json={"query": query, "variables": variables}, headers=headers, timeout=60
        )
        body = r.json()
        if body.get("errors"):
            raise RuntimeError(json.dumps(body["errors"])[:2000])
        return body["data"]

    def staff(self, query: str, **variables) -> dict:
        return self.gql(query, self.token, **variables)


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class ScriptApp(AppProcess):
    """The tests' App launcher with a key of its own; ``cli`` returns the
    output and raises when the command fails."""

    def __init__(self, workdir: str) -> None:
        super().__init__(workdir, env={"CRYPTOPAY_APP_SECRET_KEY": Fernet.generate_key().decode()})

    def cli(self, *args: str) -> str:  # type: ignore[override]
        result = super().cli(*args)
        if result.returncode:
            raise RuntimeError(f"cryptopay-app {args[0]}: {result.stderr}")
        return result.stdout


CHECKOUT = """mutation($channel: String!, $email: String!, $variant: ID!, $address: AddressInput!) {
  checkoutCreate(input: {channel: $channel, email: $email, lines: [{quantity: 1, variantId: $variant}],
                         shippingAddress: $address, billingAddress: $address}) {
    checkout { id shippingMethods { id } } errors { field code message } } }"""
DELIVERY = """mutation($id: ID!, $method: ID!) { checkoutDeliveryMethodUpdate(id: $id, deliveryMethodId: $method) {
    checkout { id totalPrice { gross { amount currency } } } errors { field code message } } }"""
GATEWAY_INIT = """mutation($id: ID!) { paymentGatewayInitialize(id: $id, paymentGateways: [{id: "saleor.cryptopay"}]) {
    gatewayConfigs { id data errors { code message } } errors { code message } } }"""
TXN_INIT = """mutation($id: ID!, $data: JSON) { transactionInitialize(id: $id,
    paymentGateway: {id: "saleor.cryptopay", data: $data}) {
    transaction { id pspReference } transactionEvent { type message } data errors { field code message } } }"""
ORDER_OF = """query($id: ID!) { transaction(id: $id) { order {
    id number checkoutId chargeStatus totalCharged { amount } total { gross { amount } }
    transactions { pspReference chargedAmount { amount } events { type pspReference } } } } }"""


def checkout(saleor: Saleor, channel: str, variant: str) -> tuple[str, float]:
    data = saleor.gql(CHECKOUT, channel=channel, email="ada@example.com", variant=variant,
                      address=ADDRESS)["checkoutCreate"]  # fmt: skip
    assert not data["errors"], data["errors"]
    cid = data["checkout"]["id"]
    method = data["checkout"]["shippingMethods"][0]["id"]
    data = saleor.gql(DELIVERY, id=cid, method=method)["checkoutDeliveryMethodUpdate"]
    assert not data["errors"], data["errors"]
    return cid, data["checkout"]["totalPrice"]["gross"]["amount"]


def orders_for(saleor: Saleor, transaction_id: str) -> list[dict]:
    """The order the transaction belongs to (staff, HANDLE_PAYMENTS), as a list."""
    order = (saleor.staff(ORDER_OF, id=transaction_id)["transaction"] or {}).get("order")
    return [order] if order else []


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--saleor", required=True, help="Saleor API URL, …/graphql/")
    p.add_argument("--email", default="admin@example.com")
    p.add_argument("--password", default="admin")
    p.add_argument("--channel", default="default-channel")
    args = p.parse_args()
    saleor = Saleor(args.saleor)
    workdir = tempfile.mkdtemp(prefix="cryptopay-app-e2e-")
    app = ScriptApp(workdir)
    with SandboxServer("127.0.0.1", 0) as sb:
        app.start()
        try:
            run(saleor, app, sb, args)
        finally:
            app.stop()
    step(f"ALL PASSED (App log: {workdir}/app.log)")
    return 0


def run(saleor: Saleor, app: ScriptApp, sb: SandboxServer, args) -> None:
    saleor.token = saleor.gql(
        "mutation($e: String!, $p: String!) { tokenCreate(email: $e, password: $p) { token } }",
        e=args.email, p=args.password,
    )["tokenCreate"]["token"]  # fmt: skip

    def installed():
        apps = saleor.staff("{ apps(first: 50) { edges { node { id identifier isActive } } } }")
        found = [
            e["node"]
            for e in apps["apps"]["edges"]
            if e["node"]["identifier"] == "saleor.cryptopay"
        ]
        return found[0] if found else None

    while old := installed():  # from an earlier run: the identifier is unique
        saleor.staff(
            "mutation($id: ID!) { appDelete(id: $id) { errors { message } } }", id=old["id"]
        )
    step("staff token ok; installing the App with appInstall")
    t0 = time.monotonic()
    data = saleor.staff(
        """mutation($url: String!) { appInstall(input: {appName: "CryptoPay", manifestUrl: $url,
           permissions: [HANDLE_PAYMENTS]}) { appInstallation { id status message }
           errors { field code message } } }""",
        url=f"{app.url}/api/manifest",
    )["appInstall"]
    assert not data["errors"], data["errors"]
    app_node = wait_for(installed, 60, "the App to be installed")
    step(f"installed in {time.monotonic() - t0:.1f}s: {app_node}")

    out = app.cli("configure", "--saleor-api-url", args.saleor, "--channel", args.channel,
                  "--provider", "coinpay24", "--api-key", sb.coinpay24_api_key,
                  "--api-base-url", sb.coinpay24_base)  # fmt: skip
    step("configured: " + out.strip().replace("\n", " | "))

    variant = saleor.gql(
        """query($c: String!) { products(first: 20, channel: $c) { edges { node {
           variants { id quantityAvailable } } } } }""",
        c=args.channel,
    )["products"]["edges"]
    variant_id = next(
        v["id"] for e in variant for v in e["node"]["variants"] if (v["quantityAvailable"] or 0) > 5
    )

    # -- 1. the normal path --------------------------------------------------
    cid, total = checkout(saleor, args.channel, variant_id)
    step(f"checkout {cid} total {total}")
    gw = saleor.gql(GATEWAY_INIT, id=cid)["paymentGatewayInitialize"]
    step(f"paymentGatewayInitialize: {gw['gatewayConfigs']}")
    assert gw["gatewayConfigs"][0]["data"]["providers"][0]["id"] == "coinpay24"
    init = saleor.gql(TXN_INIT, id=cid, data={"provider": "coinpay24"})["transactionInitialize"]
    assert not init["errors"], init["errors"]
    step(
        f"transactionInitialize: {init['transactionEvent']} psp={init['transaction']['pspReference']}"
    )
    assert init["transactionEvent"]["type"] == "CHARGE_ACTION_REQUIRED"
    psp, txn = init["transaction"]["pspReference"], init["transaction"]["id"]
    assert init["data"]["invoice_id"] == psp and init["data"]["payment_url"]
    t0 = time.monotonic()
    sb.act("coinpay24", psp, "pay")
    orders = wait_for(lambda: orders_for(saleor, txn), 60, "the order")
    step(f"callback → order in {time.monotonic() - t0:.2f}s: {orders}")
    assert len(orders) == 1 and orders[0]["chargeStatus"] == "FULL"
    assert orders[0]["totalCharged"]["amount"] == total and orders[0]["checkoutId"] == cid
    counts = sb.request_counts()["coinpay24"]
    step(f"provider calls for this checkout: {counts}")

    # -- 2. 20 concurrent duplicates and a forged callback ------------------
    [delivery] = sb.wait_for_callbacks(1, provider="coinpay24", invoice=psp)
    callback_url = out.split("provider callback URL: ")[1].split()[0]
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(
            lambda _: requests.post(callback_url, data=delivery["fields"], timeout=60).status_code,
            range(20),
        ))  # fmt: skip
    orders = orders_for(saleor, txn)
    step(f"20 duplicates answered {sorted(set(codes))}")
    assert len(orders) == 1 and orders[0]["totalCharged"]["amount"] == total
    charges = [
        e for t in orders[0]["transactions"] for e in t["events"] if e["type"] == "CHARGE_SUCCESS"
    ]
    step(f"CHARGE_SUCCESS events on the order: {len(charges)}")
    assert len(charges) == 1

    # -- 3. a callback missed while the App was down -----------------------
    cid2, _ = checkout(saleor, args.channel, variant_id)
    init2 = saleor.gql(TXN_INIT, id=cid2, data={"provider": "coinpay24"})["transactionInitialize"]
    psp2, txn2 = init2["transaction"]["pspReference"], init2["transaction"]["id"]
    forged = {**delivery["fields"], "id": psp2, "verify_hash": "0" * 64}
    forged.pop("txn_id", None)
    answer = requests.post(callback_url, data=forged, timeout=30).text
    step(f"forged 'paid' callback for the open invoice {psp2}: {answer[:60]!r}")
    assert answer.startswith("rejected") and not orders_for(saleor, txn2)
    app.stop()
    sb.act("coinpay24", psp2, "pay")
    time.sleep(1)
    assert not orders_for(saleor, txn2)
    step("paid while the App was down; running cryptopay-app reconcile")
    print(app.cli("reconcile"))
    orders2 = wait_for(lambda: orders_for(saleor, txn2), 60, "the reconciled order")
    step(f"reconciled order: {orders2}")
    assert len(orders2) == 1 and orders2[0]["chargeStatus"] == "FULL"
    app.start()


if __name__ == "__main__":
    sys.exit(main())
