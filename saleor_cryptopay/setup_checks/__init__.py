"""Setup checks shared by both editions (no Saleor here): are the credentials
right, and will the provider's callbacks ever arrive?"""

from .callback_url import Audience, check_callback_url, classify_callback_url, probe_callback_url
from .credentials import CHECKS, CredentialCheck, check_credentials
from .findings import Finding, Level, errors, worst

__all__ = [
    "Audience",
    "CHECKS",
    "CredentialCheck",
    "Finding",
    "Level",
    "check_callback_url",
    "check_credentials",
    "classify_callback_url",
    "errors",
    "probe_callback_url",
    "worst",
]
