"""Request parsing and response building shared by the sandbox's handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Optional
from urllib.parse import parse_qsl


class BadRequest(Exception):
    pass


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def is_json(self) -> bool:
        if self.content_type == "application/json" or self.content_type.endswith("+json"):
            return True
        # some clients post JSON without a content type
        return not self.content_type and self.body.lstrip()[:1] in (b"{", b"[")

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(f"invalid JSON body: {exc}") from exc

    def form_pairs(self) -> list[tuple[str, str]]:
        """urlencoded or multipart/form-data fields (file parts are read as text)."""
        if self.content_type == "multipart/form-data":
            return parse_multipart(self.headers.get("content-type", ""), self.body)
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest("form body is not UTF-8") from exc
        return parse_qsl(text, keep_blank_values=True)

    def params(self) -> dict[str, Any]:
        """Query string merged with the body (JSON object or form); body wins."""
        out: dict[str, Any] = dict(self.query)
        if self.is_json():
            data = self.json()
            if not isinstance(data, dict):
                raise BadRequest("JSON body must be an object")
            out.update(data)
        elif self.body:
            out.update(self.form_pairs())
        return out


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """multipart/form-data via the stdlib email parser (``cgi`` is deprecated)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise BadRequest("malformed multipart body")
    pairs: list[tuple[str, str]] = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        pairs.append((str(name), payload.decode(charset, errors="replace")))
    return pairs


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0  # seconds between the body's bytes (a fault), 0 = all at once


def json_response(
    data: Any, status: int = 200, headers: Optional[dict[str, str]] = None
) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(status, body, "application/json", dict(headers or {}))


def html_response(text: str, status: int = 200) -> Response:
    return Response(status, text.encode("utf-8"), "text/html; charset=utf-8")


def redirect(location: str, status: int = 303) -> Response:
    return Response(status, b"", "text/plain", {"Location": location})


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")
