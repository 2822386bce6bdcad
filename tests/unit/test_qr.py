"""Payment URIs and their QR codes, read back with a real QR decoder."""

from decimal import Decimal
from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from saleor_cryptopay.money import plain_decimal
from saleor_cryptopay.qr import payment_uri, qr_data_uri, qr_png, qr_png_base64
from tests.qr_decode import decode_qr

BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
LTC_ADDRESS = "ltc1qg82gzqqgu3mzrp8mygylqf7kqwlyq6dvhtu3v8"
DOGE_ADDRESS = "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"
BCH_CASHADDR = "qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"
ETH_ADDRESS = "0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BAe"


@pytest.mark.parametrize(
    "amount,text",
    [
        (Decimal("0.00120000"), "0.0012"),
        (Decimal("0.000600000000000000"), "0.0006"),  # as the database gives it back
        (Decimal("1.00000000"), "1"),
        (Decimal("100"), "100"),  # integer zeros stay
        (Decimal("5E+1"), "50"),
        (Decimal("1E-8"), "0.00000001"),
        (Decimal("0.1"), "0.1"),
        (Decimal("20999999.97690000"), "20999999.9769"),
    ],
)
def test_plain_decimal_is_plain_decimal(amount, text):
    assert plain_decimal(amount) == text


@given(st.decimals(min_value=Decimal("1e-18"), max_value=Decimal("1e9"), places=18))
def test_plain_decimal_round_trips_without_exponent(amount):
    text = plain_decimal(amount)
    assert "e" not in text.lower() and not text.endswith(".")
    assert Decimal(text) == amount
    assert "." not in text or not text.endswith("0")


def test_bitcoin_uri_with_amount():
    uri = payment_uri("BTC", BTC_ADDRESS, Decimal("0.00120000"))
    assert uri == f"bitcoin:{BTC_ADDRESS}?amount=0.0012"


@pytest.mark.parametrize(
    "coin,address,uri",
    [
        ("LTC", LTC_ADDRESS, f"litecoin:{LTC_ADDRESS}?amount=1.5"),
        ("doge", DOGE_ADDRESS, f"dogecoin:{DOGE_ADDRESS}?amount=1.5"),
        # CashAddr with or without its prefix: the prefix is not doubled
        ("BCH", BCH_CASHADDR, f"bitcoincash:{BCH_CASHADDR}?amount=1.5"),
        ("BCH", "bitcoincash:" + BCH_CASHADDR, f"bitcoincash:{BCH_CASHADDR}?amount=1.5"),
    ],
)
def test_altcoin_uris(coin, address, uri):
    assert payment_uri(coin, address, Decimal("1.50")) == uri


@pytest.mark.parametrize("coin", ["ETH", "USDT", "XRP", ""])
def test_coins_without_a_standard_scheme_get_the_plain_address(coin):
    assert payment_uri(coin, ETH_ADDRESS, Decimal("0.5")) == ETH_ADDRESS


@pytest.mark.parametrize("amount", [None, Decimal("0"), Decimal("-1"), Decimal("NaN")])
def test_no_usable_amount_means_no_amount_parameter(amount):
    assert payment_uri("BTC", BTC_ADDRESS, amount) == f"bitcoin:{BTC_ADDRESS}"


@pytest.mark.parametrize(
    "address",
    ["", "   ", "short", BTC_ADDRESS + "?amount=9", BTC_ADDRESS + "&x=1", "bc1q ar0srrr7xfkvy5l6"],
)
def test_anything_but_an_address_gets_no_uri(address):
    assert payment_uri("BTC", address, Decimal("1")) is None


@pytest.mark.parametrize(
    "text",
    [
        f"bitcoin:{BTC_ADDRESS}?amount=0.0012",
        f"litecoin:{LTC_ADDRESS}?amount=20999999.9769",
        ETH_ADDRESS,
    ],
)
def test_qr_code_decodes_to_the_uri(text):
    assert decode_qr(qr_data_uri(text)) == text
    assert decode_qr(qr_png_base64(text)) == text


def test_qr_png_is_small_and_has_a_quiet_zone():
    png = qr_png(f"bitcoin:{BTC_ADDRESS}?amount=0.0012")
    assert len(png) < 2000  # cheap to send in every confirmationData
    # scanners need the white border (4 modules of 6 px) the standard asks for
    image = Image.open(BytesIO(png)).convert("L")
    width, height = image.size
    assert width == height
    border = [image.getpixel((x, y)) for x in range(width) for y in range(24)]
    assert min(border) == 255
