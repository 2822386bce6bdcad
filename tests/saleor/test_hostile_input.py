"""Property-based: whatever arrives at the callback URL, the handler answers
(never a 5xx for bad input, never an exception) and payment state moves only
when the provider itself says paid."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote_from_bytes, urlencode

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")
pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install hypothesis)")

from django.test import Client  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import ChargeStatus, TransactionKind  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice  # noqa: E402
from saleor_cryptopay.providers.coinpay24_hash import compute_verify_hash  # noqa: E402

from .flow import callback_pairs, callback_path, edited, post_form, start  # noqa: E402

pytestmark = pytest.mark.django_db

PROVIDERS = ["coinpay24", "coinpay_th"]
EXAMPLES = 80

HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis directory in the working tree
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the open invoice is shared on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# -- values and mutations ----------------------------------------------------------

NASTY = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "paid\x00",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e309",
        "-0",
        "0x10",
        "1_000",
        "١٢٣",  # Arabic-Indic digits: str.isdigit() is True
        "²",
        "null",
        "true",
        "[]",
        "{}",
        "<script>",
        "' OR 1=1 --",
        "../../etc/passwd",
        "%00",
        "\u202e",
        "\ud7ff",
        "\ud800",  # a lone surrogate (only JSON can carry one)
    ]
)
odd_text = st.one_of(
    NASTY,
    NASTY,
    st.sampled_from(["\x00", "1\x00", "\ud800", "a\udfffb"]),  # what PostgreSQL cannot store
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=1, max_value=70_000).map(lambda n: "9" * n),  # huge values
)

unknown_ids = st.one_of(
    st.integers(min_value=10**8, max_value=10**19).map(str),
    st.sampled_from(["0", "-1", "00", " 1", "1 ", "abc", "1;2", "1e3", "", "٣"]),
    st.text(max_size=70),
)

claims = {
    "coinpay24": [("status", "paid"), ("status", "completed"), ("status", "PAID")],
    "coinpay_th": [("order_status", "2"), ("success", "true"), ("status", "Completed")],
}
id_field = {"coinpay24": "txn_id", "coinpay_th": "order_id"}

percent_garbage = st.text(alphabet="%0123456789abcdefABCDEFzZ+&=;\\\x7f", max_size=200)


@st.composite
def mutated_pairs(draw, provider: str, genuine: list[tuple[str, str]], api_key: str):
    """The genuine callback, damaged in a few ways at once."""
    pairs = list(genuine)
    keys = [k for k, _ in pairs]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(
            st.sampled_from(
                ["drop", "value", "duplicate", "unknown_id", "claim", "extra", "resign", "shuffle"]
            )
        )
        if kind == "drop" and pairs:
            victim = draw(st.sampled_from(keys))
            pairs = [(k, v) for k, v in pairs if k != victim]
        elif kind == "value" and pairs:
            index = draw(st.integers(min_value=0, max_value=len(pairs) - 1))
            pairs[index] = (pairs[index][0], draw(odd_text))
        elif kind == "duplicate" and pairs:
            key = draw(st.sampled_from(keys))
            pairs.insert(draw(st.integers(0, len(pairs))), (key, draw(odd_text)))
        elif kind == "unknown_id":
            pairs = edited(pairs, **{id_field[provider]: draw(unknown_ids)})
        elif kind == "claim":
            key, value = draw(st.sampled_from(claims[provider]))
            pairs = edited(pairs, **{key: value})
        elif kind == "extra":
            pairs.append((draw(st.text(min_size=1, max_size=20)), draw(odd_text)))
        elif kind == "resign" and provider == "coinpay24":
            # a valid signature over a wrong amount / a lie: only a leaked key makes one
            changes = draw(
                st.sampled_from(
                    [
                        {"price_amount": "0.01"},
                        {"price_amount": draw(odd_text)},
                        {"status": "paid", "price_amount": "1.00"},
                        {"status": "paid"},
                        {"price_currency": "BTC"},
                    ]
                )
            )
            body = edited(pairs, verify_hash=None, **changes)
            try:
                pairs = [*body, ("verify_hash", compute_verify_hash(body, api_key))]
            except UnicodeEncodeError:  # a lone surrogate cannot be signed
                pairs = body
        elif kind == "shuffle":
            pairs = draw(st.permutations(pairs))
    return pairs


def _multipart(pairs: list[tuple[bytes, bytes]], boundary: bytes = b"BoUnDaRy") -> bytes:
    parts = [
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + k + b'"\r\n\r\n' + v
        for k, v in pairs
    ]
    return b"\r\n".join(parts) + b"\r\n--" + boundary + b"--\r\n"


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _form(pairs) -> str:
    return urlencode(pairs, errors="surrogatepass")


FORM = "application/x-www-form-urlencoded"


@st.composite
def hostile_request(draw, provider: str, genuine, api_key: str):
    """(channel slug, body bytes, content type, label)."""
    pairs = draw(mutated_pairs(provider, genuine, api_key))
    slug = draw(
        st.one_of(
            st.just("main"),
            st.just("main"),
            st.sampled_from(["other", "c-pln", "MAIN", "main-2"]),
            st.from_regex(r"[a-z0-9][a-z0-9-]{0,30}", fullmatch=True),
        )
    )
    shape = draw(
        st.sampled_from(
            [
                "form",
                "form",
                "form_charset",
                "json",
                "json_odd",
                "multipart",
                "multipart_raw",
                "multipart_broken",
                "raw_bytes",
                "percent_garbage",
                "invalid_utf8",
                "no_content_type",
                "text_plain",
                "huge",
                "many_fields",
            ]
        )
    )
    if shape == "form":
        return slug, _b(_form(pairs)), FORM, shape
    if shape == "form_charset":
        charset = draw(st.sampled_from(["latin-1", "utf-16", "bogus-charset", "", "utf-8"]))
        return slug, _b(_form(pairs)), f"{FORM}; charset={charset}", shape
    if shape == "json":
        return slug, _b(json.dumps(dict(pairs))), "application/json", shape
    if shape == "json_odd":
        value = draw(
            st.sampled_from(
                [
                    json.dumps([list(p) for p in pairs]),
                    json.dumps({k: {"nested": v} for k, v in pairs}),
                    json.dumps({k: [v, v] for k, v in pairs}),
                    json.dumps({k: None for k, _ in pairs}),
                    json.dumps({k: 1e308 * 10 if i == 0 else v for i, (k, v) in enumerate(pairs)}),
                    '{"txn_id": ',
                    "null",
                    '"string"',
                    "{" * 5000,
                    json.dumps(dict(pairs))[:-1] + ', "order_id": 1, "order_id": "x"}',
                ]
            )
        )
        ctype = draw(st.sampled_from(["application/json", "", "text/json"]))
        return slug, _b(value), ctype, shape
    if shape == "multipart":
        return slug, _multipart([(_b(k), _b(v)) for k, v in pairs]), _mp(), shape
    if shape == "multipart_raw":
        raw = [(_b(k), draw(st.binary(max_size=60))) for k, _ in pairs]
        return slug, _multipart(raw), _mp(), shape
    if shape == "multipart_broken":
        body = _multipart([(_b(k), _b(v)) for k, v in pairs])
        body = body[: draw(st.integers(0, len(body)))]
        ctype = draw(
            st.sampled_from(
                [
                    _mp(),
                    "multipart/form-data",
                    "multipart/form-data; boundary=",
                    "multipart/form-data; boundary=other",
                    "multipart/mixed; boundary=BoUnDaRy",
                    "multipart/form-data; boundary=" + "x" * 300,
                ]
            )
        )
        return slug, body, ctype, shape
    if shape == "raw_bytes":
        return slug, draw(st.binary(max_size=500)), draw(st.sampled_from([FORM, ""])), shape
    if shape == "percent_garbage":
        return slug, _b(draw(percent_garbage)), FORM, shape
    if shape == "invalid_utf8":
        junk = draw(st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\x00"]))
        body = _form(pairs) + "&" + quote_from_bytes(junk) + "=" + quote_from_bytes(junk)
        raw = _b(_form(pairs)).replace(b"=", b"=" + junk, 1)
        return slug, draw(st.sampled_from([_b(body), raw])), FORM, shape
    if shape == "no_content_type":
        return slug, _b(_form(pairs)), "", shape
    if shape == "text_plain":
        return slug, _b(_form(pairs)), "text/plain", shape
    if shape == "huge":
        big = "x" * draw(st.integers(60_000, 300_000))
        return slug, _b(_form([*pairs, ("padding", big)])), FORM, shape
    # many_fields
    n = draw(st.integers(100, 1500))
    filler = [(f"f{i}", "1") for i in range(n)]
    use_multipart = draw(st.booleans())
    if use_multipart:
        raw = [(_b(k), _b(v)) for k, v in [*filler, *pairs]]
        return slug, _multipart(raw), _mp(), shape
    return slug, _b(_form([*filler, *pairs])), FORM, shape


def _mp() -> str:
    return "multipart/form-data; boundary=BoUnDaRy"


# -- the property ------------------------------------------------------------------


def open_invoice(provider, configure_gateway, api_client, checkout, checkout_total, sb):
    """An unpaid invoice with a genuine callback on record (CoinPay24: a coin
    chosen; CoinPay.in.th: coins seen, unconfirmed)."""
    plugin = configure_gateway(provider)
    invoice_id = start(api_client, checkout, plugin.PLUGIN_ID, checkout_total(checkout))[
        "invoice_id"
    ]
    sb.act(provider, invoice_id, "checkout" if provider == "coinpay24" else "confirming")
    return plugin, invoice_id


def sandbox_says_paid(sb, provider, invoice_id) -> bool:
    if provider == "coinpay24":
        rows = [i for i in sb.invoices() if str(i["id"]) == str(invoice_id)]
        return rows[0]["status"] in ("paid", "completed")
    rows = [o for o in sb.orders() if str(o.get("order_id", o.get("id"))) == str(invoice_id)]
    return str(rows[0].get("order_status", rows[0].get("status"))) == "2"


def assert_nothing_charged(checkout_token, payment_pk):
    payment = Payment.objects.get(pk=payment_pk)
    assert payment.charge_status == ChargeStatus.NOT_CHARGED
    assert payment.is_active
    assert not payment.transactions.filter(kind=TransactionKind.CAPTURE).exists()
    assert not Order.objects.filter(checkout_token=checkout_token).exists()
    invoice = Invoice.objects.get()
    assert invoice.charged_at is None and invoice.status in ("new", "waiting", "confirming")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_hostile_callbacks_never_crash_nor_charge(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb, channel_PLN
):
    plugin, invoice_id = open_invoice(
        provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
    )
    # another channel with the gateway configured too: "c-pln"-style misroutes
    configure_gateway(provider, channel=channel_PLN, supported_currencies="PLN")
    genuine = callback_pairs(sb, provider, invoice_id)
    payment_pk = Payment.objects.get(checkout=ready_checkout).pk
    token = ready_checkout.token
    # raise_request_exception: an exception in the view fails the example
    client = Client(raise_request_exception=True)
    seen_shapes: set[str] = set()
    statuses: set[int] = set()

    @HYPOTHESIS
    @given(hostile_request(provider, genuine, sb.coinpay24_api_key))
    def check(request):
        slug, body, content_type, shape = request
        seen_shapes.add(shape)
        response = client.generic(
            "POST", callback_path(plugin.PLUGIN_ID, slug), data=body, content_type=content_type
        )
        statuses.add(response.status_code)
        # 503 "deferred" is a deliberate "send it again later": a CoinPay.in.th
        # invoice whose IPNs already cost their verifications (issue 14 §3)
        deferred = response.status_code == 503 and response.content.startswith(b"failed: deferred")
        answer = (shape, response.status_code, response.content)
        assert response.status_code < 500 or deferred, answer
        assert not sandbox_says_paid(sb, provider, invoice_id)
        assert_nothing_charged(token, payment_pk)

    check()

    assert len(seen_shapes) >= 8, seen_shapes
    assert CallbackEvent.objects.exists()
    # failed = a crash or a provider error; "deferred:" = told to send it again
    failed = CallbackEvent.objects.filter(outcome="failed").exclude(result__startswith="deferred:")
    assert not failed.exists(), list(failed.values_list("result", flat=True)[:5])

    # control: after all that, the genuine paid callback still charges once
    # (once the IPN verification interval the forged ones spent has passed)
    Invoice.objects.update(ipn_checked_at=None, ipn_checks=0)
    sb.act(provider, invoice_id, "pay")
    response = post_form(Client(), plugin.PLUGIN_ID, callback_pairs(sb, provider, invoice_id))
    assert response.status_code == 200, response.content
    payment = Payment.objects.get(pk=payment_pk)
    assert payment.charge_status == ChargeStatus.FULLY_CHARGED
    assert payment.transactions.filter(kind=TransactionKind.CAPTURE).count() == 1
    assert Order.objects.filter(checkout_token=token).count() == 1


# -- secrets never leak ------------------------------------------------------------

PLUGIN_QUERY = """
query Plugin($id: ID!) {
  plugin(id: $id) {
    id
    channelConfigurations { channel { slug } active configuration { name value type } }
  }
}
"""
PLUGINS_QUERY = """
query Plugins {
  plugins(first: 50) {
    edges { node { id channelConfigurations { configuration { name value type } } } }
  }
}
"""
REREAD = {"coinpay24": "invoices/get", "coinpay_th": "checkorder"}
CREATE = {"coinpay24": "invoices/create", "coinpay_th": "paybox"}


def _capture_every_logger(caplog):
    """caplog at DEBUG, also on loggers that do not propagate to the root."""
    caplog.set_level(logging.DEBUG)
    attached = []
    for logger in logging.root.manager.loggerDict.values():
        if isinstance(logger, logging.Logger) and not logger.propagate:
            logger.addHandler(caplog.handler)
            attached.append(logger)
    return attached


def _log_text(records) -> str:
    formatter = logging.Formatter()
    out = []
    for record in records:
        if record.name.startswith("saleor_cryptopay.sandbox"):
            continue  # the provider's own side, not the plugin's
        out.append(record.getMessage())
        out.append(repr(record.args))
        if record.exc_info:
            out.append(formatter.formatException(record.exc_info))
        if record.stack_info:
            out.append(record.stack_info)
    return "\n".join(out)


def _database_text() -> str:
    """Every row of every table, except the plugin configuration (Saleor keeps
    SECRET fields there in plaintext by design)."""
    from django.apps import apps
    from saleor.plugins.models import PluginConfiguration

    chunks = []
    for model in apps.get_models():
        if model is PluginConfiguration or model._meta.proxy:
            continue
        rows = list(model._base_manager.all().values())
        if rows:
            chunks.append(f"{model._meta.label}: {json.dumps(rows, default=str)}")
    return "\n".join(chunks)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_secrets_never_leak(
    provider,
    caplog,
    configure_gateway,
    api_client,
    staff_api_client,
    permission_manage_plugins,
    ready_checkout,
    checkout_total,
    sb,
):
    from saleor.graphql.core.utils import to_global_id_or_none

    from saleor_cryptopay.providers.errors import ProviderError

    from .flow import COMPLETE, PAYMENT_CREATE

    attached = _capture_every_logger(caplog)
    texts: list[str] = []  # everything the outside world or staff can see
    plugin = configure_gateway(provider)
    checkout_id = to_global_id_or_none(ready_checkout)

    def graphql(query, variables=None, client=api_client, **kwargs):
        response = client.post_graphql(query, variables or {}, **kwargs)
        texts.append(response.content.decode())
        return json.loads(response.content)

    payment_input = {"gateway": plugin.PLUGIN_ID, "amount": str(checkout_total(ready_checkout))}
    graphql(PAYMENT_CREATE, {"id": checkout_id, "input": payment_input})
    # 1. the provider refuses invoice creation (a 401, as for a bad key)
    sb.inject_fault(provider, "status", status=401, endpoint=CREATE[provider])
    refused = graphql(COMPLETE, {"id": checkout_id})["data"]["checkoutComplete"]
    assert refused["errors"] and not refused["order"], refused
    # 2. it works the second time
    done = graphql(COMPLETE, {"id": checkout_id})["data"]["checkoutComplete"]
    invoice_id = json.loads(done["confirmationData"])["invoice_id"]
    sb.act(provider, invoice_id, "checkout" if provider == "coinpay24" else "confirming")
    genuine = callback_pairs(sb, provider, invoice_id)
    # 3. a forged callback
    forged = (
        edited(genuine, status="paid")
        if provider == "coinpay24"
        else edited(genuine, verify="forged-" + "0" * 30, order_status="2")
    )
    texts.append(post_form(Client(), plugin.PLUGIN_ID, forged).content.decode())
    # 4. the re-read fails (422) while a genuine callback is handled
    sb.inject_fault(provider, "status", status=422, endpoint=REREAD[provider])
    texts.append(post_form(Client(), plugin.PLUGIN_ID, genuine).content.decode())
    # 5. paid in full, delivered, the storefront completes
    sb.act(provider, invoice_id, "pay")
    response = post_form(Client(), plugin.PLUGIN_ID, callback_pairs(sb, provider, invoice_id))
    texts.append(response.content.decode())
    assert response.status_code == 200
    final = graphql(COMPLETE, {"id": checkout_id})["data"]["checkoutComplete"]
    assert final["order"], final
    # 6. exception texts of provider errors raised with the real credentials
    from saleor.plugins.manager import get_plugins_manager

    manager = get_plugins_manager(allow_replica=False)
    client = manager.get_plugin(plugin.PLUGIN_ID, channel_slug="main").build_bridge().client
    for status in (401, 422, 500):
        sb.inject_fault(provider, "status", status=status)
        try:
            if provider == "coinpay24":
                client.get_invoice(invoice_id)
            else:
                client.check_order(int(invoice_id))
        except ProviderError as exc:
            texts.extend([str(exc), repr(exc), repr(exc.args), repr(vars(exc))])
        else:
            pytest.fail(f"the injected {status} did not raise")
    # 7. the configuration as staff see it
    staff = graphql(
        PLUGIN_QUERY,
        {"id": plugin.PLUGIN_ID},
        client=staff_api_client,
        permissions=[permission_manage_plugins],
    )
    graphql(PLUGINS_QUERY, client=staff_api_client)  # the permission is granted now

    secrets = {"API key": sb.coinpay24_api_key if provider == "coinpay24" else sb.coinpay_th_key}
    if provider == "coinpay_th":
        secrets["API secret"] = sb.coinpay_th_secret
        tokens = [dict(d["fields"]).get("verify") for d in sb.callbacks(provider, invoice_id)]
        assert tokens and all(tokens)
        secrets.update({f"IPN verify token {i}": t for i, t in enumerate(tokens)})
    for logger in attached:
        logger.removeHandler(caplog.handler)
    everything = {
        "logs": _log_text(caplog.records),
        "responses": "\n".join(texts),
        "database": _database_text(),
    }
    assert len(caplog.records) > 10 and "CallbackEvent" not in everything["logs"]
    assert "saleor_cryptopay.CallbackEvent" in everything["database"]
    for where, text in everything.items():
        for what, secret in secrets.items():
            assert secret not in text, f"the {what} appears in the {where}"

    # SECRET fields come back masked to staff
    configs = staff["data"]["plugin"]["channelConfigurations"]
    assert configs, staff
    fields = {f["name"]: f for c in configs for f in c["configuration"]}
    secret_fields = ["api_key"] + (["api_secret"] if provider == "coinpay_th" else [])
    for name in secret_fields:
        assert fields[name]["type"] == "SECRET"
        value = secrets["API key" if name == "api_key" else "API secret"]
        assert fields[name]["value"] == value[-4:], fields[name]


# -- refused before storing / the same caps for every encoding ----------------------


def test_deeply_nested_json_is_a_clear_400(configure_gateway):
    """json.loads raised RecursionError: a 500 the provider retries forever."""
    plugin = configure_gateway("coinpay24")
    body = '{"txn_id": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = Client().generic(
        "POST", callback_path(plugin.PLUGIN_ID), data=body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.content.decode().startswith("refused: JSON nested deeper than")
    assert not CallbackEvent.objects.exists()


def test_multipart_callbacks_meet_the_form_caps(configure_gateway):
    """A 0.8 MB multipart callback was stored as a 1.6 MB row."""
    from saleor_cryptopay.inbox import MAX_BODY

    plugin = configure_gateway("coinpay24")
    pairs = [(f"field{i}", "x" * 2000) for i in range(400)]
    client = Client()
    client.generic(
        "POST",
        callback_path(plugin.PLUGIN_ID),
        data=urlencode(pairs),
        content_type="application/x-www-form-urlencoded",
    )
    client.generic(
        "POST",
        callback_path(plugin.PLUGIN_ID),
        data=_multipart([(_b(k), _b(v)) for k, v in pairs]),
        content_type=_mp(),
    )
    as_form, as_multipart = CallbackEvent.objects.order_by("pk")
    assert as_multipart.content_type.startswith("multipart/form-data")
    assert as_multipart.fields == as_form.fields and as_multipart.body == as_form.body
    assert len(as_multipart.body) + len(json.dumps(as_multipart.fields)) < 3 * MAX_BODY
