"""Timezone-aware dates at the provider edge."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Optional

# CoinPay.in.th reports and filters dates in Thai time, without an offset.
BANGKOK = timezone(timedelta(hours=7), "UTC+07:00")
_TH_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def parse_iso(value: Any) -> Optional[datetime]:
    """ISO 8601 with offset (CoinPay24); a naive value is taken as UTC."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_th(value: Any) -> Optional[datetime]:
    """A CoinPay.in.th date (UTC+7, no offset given) as an aware datetime."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    for fmt in _TH_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=BANGKOK)
        except ValueError:
            continue
    return parse_iso(text)


def format_th(value: datetime | date) -> str:
    """A datetime as CoinPay.in.th expects it in filters (UTC+7)."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=BANGKOK)
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return value.astimezone(BANGKOK).strftime("%Y-%m-%d %H:%M:%S")


def utc_day(value: datetime | date) -> str:
    """A CoinPay24 list filter day (YYYY-MM-DD, UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        value = value.astimezone(UTC).date()
    return value.isoformat()
