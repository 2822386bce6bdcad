"""Secrets at rest: Fernet with key rotation, and no plaintext in the tables."""

import pytest
from cryptography.fernet import Fernet

from saleor_cryptopay.app import secrets_box
from saleor_cryptopay.app.models import ChannelConfiguration, Installation

pytestmark = pytest.mark.django_db


def test_rotation_reads_old_secrets_and_writes_with_the_new_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CRYPTOPAY_APP_SECRET_KEYS = [old]
    token = secrets_box.encrypt("the-token")
    settings.CRYPTOPAY_APP_SECRET_KEYS = [new, old]
    assert secrets_box.decrypt(token) == "the-token"
    fresh = secrets_box.encrypt("the-token")
    settings.CRYPTOPAY_APP_SECRET_KEYS = [new]
    assert secrets_box.decrypt(fresh) == "the-token"
    with pytest.raises(secrets_box.SecretKeyMissing, match="changed"):
        secrets_box.decrypt(token)


def test_missing_or_invalid_key_is_refused(settings):
    settings.CRYPTOPAY_APP_SECRET_KEYS = []
    with pytest.raises(secrets_box.SecretKeyMissing, match="not set"):
        secrets_box.encrypt("x")
    settings.CRYPTOPAY_APP_SECRET_KEYS = ["not-a-fernet-key"]
    with pytest.raises(secrets_box.SecretKeyMissing, match="not a Fernet key"):
        secrets_box.encrypt("x")


def test_no_plaintext_in_the_rows():
    inst = Installation(saleor_api_url="https://shop.example/graphql/", app_id="QXBwOjE=")
    inst.set_token("tok-123456")
    inst.save()
    config = ChannelConfiguration(installation=inst, channel_slug="main", provider="coinpay_th")
    config.set_secrets({"api_key": "key-abcdef", "api_secret": "sec-ghijkl"})
    config.values = {"supported_currencies": "USD"}
    config.save()
    row = ChannelConfiguration.objects.values().get()
    assert "key-abcdef" not in str(row) and "sec-ghijkl" not in str(row)
    assert "tok-123456" not in str(Installation.objects.values().get())
    loaded = ChannelConfiguration.objects.get()
    assert loaded.settings.get("api_secret") == "sec-ghijkl"
    assert loaded.callback_url.endswith("/api/callbacks/" + loaded.callback_key)
    assert len(loaded.callback_key) >= 24
