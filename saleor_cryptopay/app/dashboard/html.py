"""Small HTML pieces for the Dashboard pages: every value escaped here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape

from ...money import format_amount

NAV = (("home", "Overview"), ("configuration", "Configuration"), ("operations", "Operations"))


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def money(amount: object, currency: str) -> str:
    """An order-currency amount at the currency's precision, with its code."""
    if not isinstance(amount, Decimal):
        return e(f"{amount} {currency}")
    return e(f"{format_amount(amount, currency)} {currency}")


def coins(amount: object, coin: str) -> str:
    """A coin amount without trailing zeros (all its digits, never rounded)."""
    if not isinstance(amount, Decimal):
        return e(f"{amount if amount is not None else '-'} {coin}")
    return e(f"{format(amount.normalize(), 'f')} {coin}")


@dataclass(frozen=True)
class Flash:
    """The outcome of an action, shown above the page and as a Dashboard toast."""

    status: str  # success | error | warning | info
    text: str

    def html(self) -> str:
        return (
            f"<p class='flash {e(self.status)}' data-notify='{e(self.status)}'>{e(self.text)}</p>"
        )


def page(title: str, body: str, *, current: str = "", flash: Flash | None = None) -> str:
    links = "".join(
        f"<a href='#' data-page='{name}'{' class=current' if name == current else ''}>{label}</a>"
        for name, label in NAV
    )
    return (
        f"<nav>{links}</nav><h1>{e(title)}</h1>{flash.html() if flash else ''}{body}"
        f"<span hidden data-loaded='{e(current)}'></span>"
    )


def table(headers: tuple[str, ...], rows: list[str], empty: str) -> str:
    if not rows:
        return f"<p class='help'>{e(empty)}</p>"
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def copyable(value: str) -> str:
    return (
        f"<code>{e(value)}</code> "
        f"<button type='button' data-copy='{e(value)}' title='Copy'>Copy</button>"
    )


def hidden(name: str, value: object) -> str:
    return f"<input type='hidden' name='{e(name)}' value='{e(value)}'>"
