"""The single error type raised by every provider client."""

from __future__ import annotations

from typing import Optional


class ProviderError(Exception):
    """A provider call failed.

    ``message`` is the provider's own words where it gave any (never a secret:
    clients build it from response bodies, not from what they sent).
    ``retryable`` says whether the same call may succeed later (timeouts,
    connection errors, 5xx, 429, a nonce race); ``retry_after`` is the wait in
    seconds the provider asked for, if it did.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: Optional[int] = None,
        retryable: bool = False,
        retry_after: Optional[float] = None,
        code: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code

    def __str__(self) -> str:
        parts = [f"{self.provider}: {self.message}"]
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code})")
        if self.retryable:
            parts.append("[retryable]")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.message!r}, provider={self.provider!r}, "
            f"status_code={self.status_code!r}, retryable={self.retryable!r}, "
            f"retry_after={self.retry_after!r}, code={self.code!r})"
        )
