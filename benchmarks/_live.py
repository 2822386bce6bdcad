"""Saleor as it is deployed, for the speed benchmark: its ASGI application
under uvicorn (a thread of the benchmark's process, so Saleor's own
checkout-completion function can be timed in the same run), the App as
separate ``cryptopay-app serve`` processes, and identical checkouts made the
way a storefront makes them (GraphQL)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from saleor.graphql.core.utils import to_global_id_or_none
from saleor.graphql.tests.utils import get_graphql_content

from tests.app_process import AppProcess, free_port, wait_for


class SaleorServer:
    """``saleor.asgi:application`` under uvicorn on a free loopback port."""

    def __init__(self) -> None:
        from saleor.asgi import application

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> SaleorServer:
        self.thread.start()
        wait_for(lambda: self.server.started, 60, "uvicorn serving Saleor", 0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


class CompletionFloor:
    """Saleor's own checkout-completion function (``complete_checkout``, what
    ``checkoutComplete`` and the plugin call), timed per checkout token
    wherever a module holds it."""

    def __init__(self) -> None:
        import saleor.checkout.complete_checkout as module

        self.original = module.complete_checkout
        self.seconds: dict[str, float] = {}
        self._patched: list[tuple[Any, str]] = []

    def __enter__(self) -> CompletionFloor:
        original = self.original

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                info = kwargs.get("checkout_info")
                if info is not None:
                    self.seconds[str(info.checkout.token)] = time.perf_counter() - started

        for module in list(sys.modules.values()):
            if getattr(module, "complete_checkout", None) is original:
                module.complete_checkout = timed
                self._patched.append((module, "complete_checkout"))
        return self

    def __exit__(self, *exc: object) -> None:
        for module, name in self._patched:
            setattr(module, name, self.original)


CHECKOUT_CREATE = """
mutation Create($input: CheckoutCreateInput!) {
  checkoutCreate(input: $input) { checkout { id token } errors { field code message } }
}
"""
DELIVERY = """
mutation Delivery($id: ID!, $method: ID!) {
  checkoutDeliveryMethodUpdate(id: $id, deliveryMethodId: $method) {
    errors { field code message }
  }
}
"""


def address_input(address: Any) -> dict[str, str]:
    return {
        "firstName": address.first_name,
        "lastName": address.last_name,
        "streetAddress1": address.street_address_1,
        "city": address.city,
        "postalCode": address.postal_code,
        "country": str(
            address.country.code if hasattr(address.country, "code") else address.country
        ),
        "countryArea": address.country_area,
        "phone": str(address.phone),
    }


def make_checkout_factory(api_client: Any, variant: Any, address: Any, shipping_method: Any):
    """Identical checkouts, made as a storefront makes them (works on every
    Saleor version: no internal helper whose signature moved)."""
    from saleor.checkout.models import Checkout

    def make() -> Checkout:
        variables = {
            "input": {
                "channel": "main",
                "email": "shopper@example.com",
                "lines": [{"variantId": to_global_id_or_none(variant), "quantity": 3}],
                "shippingAddress": address_input(address),
                "billingAddress": address_input(address),
            }
        }
        content = get_graphql_content(api_client.post_graphql(CHECKOUT_CREATE, variables))
        result = content["data"]["checkoutCreate"]
        assert not result["errors"], result["errors"]
        checkout_id = result["checkout"]["id"]
        variables = {"id": checkout_id, "method": to_global_id_or_none(shipping_method)}
        content = get_graphql_content(api_client.post_graphql(DELIVERY, variables))
        assert not content["data"]["checkoutDeliveryMethodUpdate"]["errors"]
        return Checkout.objects.get(token=result["checkout"]["token"])

    return make


@contextlib.contextmanager
def app_process(workdir: Path, database_url: str, name: str) -> Iterator[AppProcess]:
    """``cryptopay-app serve`` (the tests' launcher) on ``database_url``, with
    Server-Timing on; CRYPTOPAY_APP_PYTHON names another Python for it."""
    app = AppProcess(
        workdir,
        python=os.environ.get("CRYPTOPAY_APP_PYTHON") or sys.executable,
        database_url=database_url,
        env={"CRYPTOPAY_SERVER_TIMING": "1"},
        log_name=f"{name}.log",
    ).start()
    try:
        yield app
    finally:
        app.stop()


class SaleorProfile:
    """``BENCH_PROFILE=1``: Saleor's GraphQL requests under cProfile, one
    profile per kind of request (the first mutation it names), printed as the
    functions with the most cumulative time."""

    KINDS = ("transactionEventReport", "checkoutComplete", "transactionInitialize")

    def __init__(self) -> None:
        import cProfile

        from saleor.graphql.views import GraphQLView

        self.view = GraphQLView
        self.original = GraphQLView.handle_query
        self.profiles: dict[str, cProfile.Profile] = {}
        self._make = cProfile.Profile

    def __enter__(self) -> SaleorProfile:
        original, profiles = self.original, self.profiles
        busy = threading.Lock()

        def handle_query(view: Any, request: Any) -> Any:
            body = request.body.decode("utf-8", "replace")
            kind = "+".join(k for k in self.KINDS if k in body) or "other"
            if not busy.acquire(blocking=False):  # one profiler at a time (3.12)
                return original(view, request)
            profile = profiles.setdefault(kind, self._make())
            profile.enable()
            try:
                return original(view, request)
            finally:
                profile.disable()
                busy.release()

        self.view.handle_query = handle_query
        return self

    def __exit__(self, *exc: object) -> None:
        self.view.handle_query = self.original

    def print(self, limit: int = 30) -> None:
        import pstats

        for kind, profile in self.profiles.items():
            print(f"--- Saleor profile: {kind}")
            pstats.Stats(profile).sort_stats("cumulative").print_stats(limit)
