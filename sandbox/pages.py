"""HTML pages the sandbox serves to browsers, and the presence socket that counts them.

Every page opens a WebSocket to /ui/presence when it loads: an open socket is an open browser
page, so the counters see concurrent pages per store and vendor (now and peak). The socket names
its tab (an id kept in sessionStorage) so that a tab navigating from page to page counts once.
"""

from __future__ import annotations

import html
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from sandbox.state import NO_STORE, SandboxState

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:52rem;color:#222}
header{border-bottom:2px solid #1d4f91;margin-bottom:1rem} h1{color:#1d4f91}
.error{color:#b00020} .hint{color:#666;font-size:.9em} label{display:block;margin:.5rem 0}
table{border-collapse:collapse} td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd}
"""


def page(title: str, body: str, *, vendor: str, store: str, script: str = "") -> str:
    """A full page; `body` is trusted HTML, `script` runs after the presence socket opens."""
    # "<" escaped so that no store id can close the script element.
    presence = json.dumps({"vendor": vendor, "store": store}).replace("<", "\\u003c")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head>
<body><header><h1>{html.escape(title)}</h1></header>
{body}
<script>
(function () {{
  var p = {presence};
  var tab = null;
  try {{
    tab = sessionStorage.getItem("presence-tab");
    if (!tab) {{
      tab = Math.random().toString(36).slice(2) + Date.now().toString(36);
      sessionStorage.setItem("presence-tab", tab);
    }}
  }} catch (e) {{ tab = ""; }}
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  window.__presence = new WebSocket(scheme + location.host + "/ui/presence?vendor="
    + encodeURIComponent(p.vendor) + "&store=" + encodeURIComponent(p.store)
    + "&tab=" + encodeURIComponent(tab || ""));
}})();
{script}
</script></body></html>"""


def router(state: SandboxState) -> APIRouter:
    ui = APIRouter()

    @ui.websocket("/ui/presence")
    async def presence(
        socket: WebSocket, vendor: str = "unknown", store: str = NO_STORE, tab: str = ""
    ) -> None:
        await socket.accept()
        # A page that names no tab (sessionStorage off) counts on its own.
        tab = tab or f"socket-{id(socket)}"
        state.counters.page_opened(vendor, store, tab)
        try:
            while True:
                await socket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            state.counters.page_closed(vendor, store, tab)

    return ui
