"""Builds (or checks) the benchmark database; no figures."""

import pytest


@pytest.mark.django_db
def test_db_ready():
    from saleor.channel.models import Channel

    print("benchmark database ready; channels:", Channel.objects.count())
