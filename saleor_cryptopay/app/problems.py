"""Problems shown where staff look: Saleor's App Problems (the Dashboard's
app list and page, Saleor 3.22.36+). Older Saleors: skipped; the Dashboard
page's operations list shows the same as staff tasks.

Best effort: a problem that cannot be sent is logged, never stops a payment."""

from __future__ import annotations

import logging

from .models import Installation
from .saleor_api import SaleorClient, SaleorRefused, SaleorUnavailable
from .saleor_version import APP_PROBLEMS, at_least

logger = logging.getLogger(__name__)

CREDENTIALS = "cryptopay-credentials-refused"
CALLBACKS = "cryptopay-callbacks-unreachable"
PAID_NO_ORDER = "cryptopay-paid-no-order"
PAYOUT = "cryptopay-payout-attention"
REPORT_REFUSED = "cryptopay-report-refused"

CREATE = """
# saleor>=3.22 (App Problems: 3.22.36+)
mutation ProblemCreate($input: AppProblemCreateInput!) {
  appProblemCreate(input: $input) {
    appProblem { id }
    errors { field code message }
  }
}
"""
DISMISS = """
# saleor>=3.22 (App Problems: 3.22.36+)
mutation ProblemDismiss($keys: [String!]) {
  appProblemDismiss(input: { byApp: { keys: $keys } }) {
    errors { field code message }
  }
}
"""


def supported(installation: Installation) -> bool:
    return installation.removed_at is None and at_least(installation.saleor_version, APP_PROBLEMS)


def report(installation: Installation, key: str, message: str) -> bool:
    """Create (or add to) the problem ``key``; True if Saleor took it."""
    if not supported(installation):
        return False
    variables = {"input": {"key": key, "message": message[:2000] or key}}
    return _call(installation, CREATE, variables, "appProblemCreate")


def dismiss(installation: Installation, *keys: str) -> bool:
    if not supported(installation):
        return False
    return _call(installation, DISMISS, {"keys": list(keys)}, "appProblemDismiss")


def _call(installation: Installation, document: str, variables: dict, field: str) -> bool:
    try:
        data = SaleorClient(installation.saleor_api_url, installation.token).execute(
            document, variables
        )
    except (SaleorUnavailable, SaleorRefused) as exc:
        logger.warning("cryptopay-app: %s for %s failed: %s", field, installation, exc)
        return False
    errors = (data.get(field) or {}).get("errors") or []
    if errors:
        logger.warning("cryptopay-app: %s for %s refused: %s", field, installation, errors)
    return not errors


def from_findings(installation: Installation, where: str, findings: list) -> None:
    """Setup check results of one configuration (``where``: channel and
    provider): a problem per failing kind, dismissed once the checks pass."""
    from ..setup_checks import Level
    from ..setup_checks.callback_url import FIELD as CALLBACK_FIELD

    if not supported(installation):
        return
    failing = [f for f in findings if f.level is Level.ERROR]
    for key, matches in (
        (CALLBACKS, [f for f in failing if f.field == CALLBACK_FIELD]),
        (CREDENTIALS, [f for f in failing if f.field != CALLBACK_FIELD]),
    ):
        key = f"{key}:{where}"[:128]
        if matches:
            report(
                installation, key, f"{where}: " + " ".join(f"{f.message} {f.hint}" for f in matches)
            )
        else:
            dismiss(installation, key)
