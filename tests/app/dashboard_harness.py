"""The Saleor Dashboard's side of an App page, for the browser tests: a page
on another origin (127.0.0.1; the App is served as localhost) that frames
``appUrl`` with the Dashboard's query parameters and answers the AppBridge
protocol as the Dashboard does (handshake on ``notifyReady``, a ``response``
to every action, ``theme`` when asked). What the App posted is kept in
``window.received`` for the tests to read."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Dashboard</title></head>
<body style="margin:0"><iframe id="app" src="%(src)s" style="width:1200px;height:3200px;border:0">
</iframe><script>
var TOKEN = %(token)s, frame = document.getElementById("app");
var appOrigin = new URL(frame.src).origin;
window.received = [];
function send(message) { frame.contentWindow.postMessage(message, appOrigin); }
window.setTheme = function (theme) { send({type: "theme", payload: {theme: theme}}); };
window.setToken = function (token) {
  TOKEN = token; send({type: "tokenRefresh", payload: {token: token}});
};
window.addEventListener("message", function (event) {
  if (event.origin !== appOrigin) return;
  var data = event.data || {}; window.received.push(data);
  if (data.type === "notifyReady") {
    send({type: "handshake", payload: {token: TOKEN, version: 1,
          saleorVersion: %(saleor_version)s, dashboardVersion: %(saleor_version)s}});
  }
  if (data.payload && data.payload.actionId) {
    send({type: "response", payload: {actionId: data.payload.actionId, ok: true}});
  }
});
</script></body></html>"""


@contextmanager
def dashboard(
    app_url: str,
    saleor_api_url: str,
    token: str,
    *,
    path: str = "/",
    theme: str = "dark",
    saleor_version: str = "3.20.119",
    **context: Any,
):
    """Serve the harness; yields its URL (open it with the browser)."""
    query = {
        "saleorApiUrl": saleor_api_url,
        "id": "QXBwOjQy",
        "theme": theme,
        "locale": "en",
        **context,
    }
    html = _PAGE % {
        "src": f"{app_url}{path}?{urlencode(query)}".replace('"', "&quot;"),
        "token": json.dumps(token),
        "saleor_version": json.dumps(saleor_version),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            raw = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
