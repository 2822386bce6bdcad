import pytest

from saleor_cryptopay.providers.coinpay24 import CoinPay24Client
from saleor_cryptopay.providers.coinpay_th import CoinPayThClient
from saleor_cryptopay.sandbox import SandboxServer


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(port=0, time_scale=0.0005) as sb:
        yield sb


@pytest.fixture
def cp24(sb):
    return CoinPay24Client(sb.coinpay24_api_key, base_url=sb.coinpay24_base, timeout=(2, 2))


@pytest.fixture
def th(sb):
    return CoinPayThClient(
        sb.coinpay_th_key, sb.coinpay_th_secret, base_url=sb.coinpay_th_base, timeout=(2, 2)
    )


@pytest.fixture
def icp(sb):
    from saleor_cryptopay.providers.icoinpay import ICoinPayClient

    return ICoinPayClient(sb.icoinpay_api_key, base_url=sb.icoinpay_base, timeout=(2, 2))
