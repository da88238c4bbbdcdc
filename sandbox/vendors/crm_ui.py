"""The CRM's web UI: the only way to change a contact's DoNotCall flag.

Login form → contact search → contact page whose form JavaScript renders from a JSON call (so a
plain GET of the page shows no checkbox), Save posts the flag back and shows `#status` "Saved".
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sandbox import credentials, data
from sandbox.errors import VendorError, bad_request
from sandbox.pages import page
from sandbox.state import NO_STORE, SandboxState
from sandbox.vendors.crm import current_contact
from sandbox.wire import read_form

VENDOR = "crm_ui"
COOKIE = "crm_session"
MAX_RESULTS = 50

CONTACT_SCRIPT = """
(function () {
  var app = document.getElementById("app");
  var url = app.dataset.api;
  fetch(url, {credentials: "same-origin"}).then(function (r) {
    if (!r.ok) { throw new Error("HTTP " + r.status); }
    return r.json();
  }).then(function (c) {
    var info = c.ContactInformation;
    var phones = info.Phones.map(function (p) { return p.Number + " (" + p.PhoneType + ")"; });
    app.innerHTML = "";
    var h = document.createElement("h2");
    h.textContent = info.FirstName + " " + info.LastName + " #" + c.ContactId;
    var ph = document.createElement("p");
    ph.className = "phones"; ph.textContent = phones.join(", ") || "no phone";
    var form = document.createElement("form"); form.id = "contact-form";
    var label = document.createElement("label");
    var box = document.createElement("input");
    box.type = "checkbox"; box.id = "do-not-call"; box.name = "DoNotCall";
    box.checked = info.DoNotCall;
    label.appendChild(box); label.appendChild(document.createTextNode(" Do Not Call"));
    var save = document.createElement("button"); save.type = "submit"; save.id = "save";
    save.textContent = "Save";
    var status = document.createElement("p"); status.id = "status";
    form.appendChild(label); form.appendChild(save);
    app.appendChild(h); app.appendChild(ph); app.appendChild(form); app.appendChild(status);
    form.addEventListener("submit", function (e) {
      e.preventDefault(); status.textContent = "Saving…"; save.disabled = true;
      fetch(url, {method: "POST", credentials: "same-origin",
                  headers: {"Content-Type": "application/json"},
                  body: JSON.stringify({DoNotCall: box.checked})})
        .then(function (r) {
          save.disabled = false;
          status.textContent = r.ok ? "Saved" : "Error " + r.status;
          status.className = r.ok ? "" : "error";
        }).catch(function (err) {
          save.disabled = false; status.textContent = "Error " + err; status.className = "error";
        });
    });
  }).catch(function (err) {
    app.innerHTML = '<p class="error" id="load-error"></p>';
    document.getElementById("load-error").textContent = "Could not load contact: " + err;
  });
})();
"""


def router(state: SandboxState) -> APIRouter:
    ui = APIRouter(prefix="/crm/ui")

    def login_page(message: str = "", next_url: str = "", status: int = 200) -> HTMLResponse:
        error = f'<p class="error" id="login-error">{html.escape(message)}</p>' if message else ""
        body = f"""{error}
<form method="post" action="/crm/ui/login" id="login-form">
  <input type="hidden" name="next" value="{html.escape(next_url)}">
  <label>Username <input name="username" id="username" autocomplete="username"></label>
  <label>Password <input name="password" id="password" type="password"></label>
  <button type="submit">Sign in</button>
</form>
<p class="hint">Sandbox: username <code>&lt;dealer&gt;-user</code>, password
<code>{credentials.CRM_UI_PASSWORD}</code>.</p>"""
        return HTMLResponse(page("CRM sign in", body, vendor=VENDOR, store="_login"), status)

    def signed_in(request: Request, dealer: str) -> Response | None:
        """None when the browser holds a session for `dealer`, else the redirect to log in."""
        if state.ui_sessions.get(request.cookies.get(COOKIE, "")) == dealer:
            return None
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/crm/ui/login?next={quote(target)}", status_code=303)

    @ui.get("/login")
    async def login_form(request: Request, next: str = "") -> HTMLResponse:
        await state.gate(request, VENDOR, page=True)
        return login_page(next_url=next)

    @ui.post("/login")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        username, password = form.get("username", ""), form.get("password", "")
        dealer = state.store_from_login(username)
        who = dealer or NO_STORE
        await state.gate(request, VENDOR, who, page=True)
        next_url = form.get("next", "")
        number = state.faults.next_number(f"{VENDOR}:login", who)
        for fault in state.faults.matching(VENDOR, who):
            if state.faults.hit(fault.login_failure_rate, VENDOR, who, number, "login"):
                state.counters.count(VENDOR, who, "login_failures")
                message = "Sign-in failed: the service is temporarily unavailable."
                return login_page(message, next_url, 503)
        if dealer is None or password != credentials.CRM_UI_PASSWORD:
            state.counters.count(VENDOR, who, "login_failures")
            return login_page("Invalid username or password.", next_url, 401)
        state.counters.count(VENDOR, dealer, "logins")
        home = f"/crm/ui/dealers/{quote(dealer)}/contacts"
        target = next_url if next_url.startswith(f"/crm/ui/dealers/{dealer}/") else home
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, state.login(dealer), httponly=True, samesite="lax")
        return response

    @ui.get("/dealers/{dealer}/contacts")
    async def search(request: Request, dealer: str, q: str = "") -> Response:
        await state.gate(request, VENDOR, dealer, page=True)
        if redirect := signed_in(request, dealer):
            return redirect
        results = _search(state, dealer, q.strip()) if q.strip() else []
        rows = "".join(
            f'<tr><td><a class="contact-link" href="/crm/ui/dealers/{quote(dealer)}/contacts/'
            f'{c["ContactId"]}">{html.escape(_name(c))}</a></td><td>{c["ContactId"]}</td></tr>'
            for c in results
        )
        found = (
            f'<table id="results"><tr><th>Name</th><th>Contact</th></tr>{rows}</table>'
            if results
            else ('<p id="no-results">No contacts found.</p>' if q.strip() else "")
        )
        body = f"""<form method="get" id="search-form">
  <label>Search contacts <input name="q" id="q" value="{html.escape(q)}"></label>
  <button type="submit">Search</button></form>{found}"""
        return HTMLResponse(page(f"Contacts: {dealer}", body, vendor=VENDOR, store=dealer))

    @ui.get("/dealers/{dealer}/contacts/{contact_id}")
    async def contact_page(request: Request, dealer: str, contact_id: str) -> Response:
        await state.gate(request, VENDOR, dealer, page=True)
        if redirect := signed_in(request, dealer):
            return redirect
        _index(state, contact_id)
        api = f"/crm/ui/api/dealers/{quote(dealer)}/contacts/{contact_id}"
        body = f'<div id="app" data-api="{api}"><p>Loading…</p></div>'
        title = f"Contact {contact_id}"
        return HTMLResponse(page(title, body, vendor=VENDOR, store=dealer, script=CONTACT_SCRIPT))

    @ui.get("/api/dealers/{dealer}/contacts/{contact_id}")
    async def contact_json(request: Request, dealer: str, contact_id: str) -> dict[str, Any]:
        await state.gate(request, VENDOR, dealer)
        _require_session(state, request, dealer)
        return current_contact(state, dealer, _index(state, contact_id))

    @ui.post("/api/dealers/{dealer}/contacts/{contact_id}")
    async def save(request: Request, dealer: str, contact_id: str) -> dict[str, Any]:
        await state.gate(request, VENDOR, dealer)
        _require_session(state, request, dealer)
        index = _index(state, contact_id)
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("body: not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("DoNotCall"), bool):
            raise bad_request("DoNotCall: must be true or false")
        number = state.faults.next_number(f"{VENDOR}:save", dealer)
        state.counters.count(VENDOR, dealer, "saves")
        if (
            current_contact(state, dealer, index)["ContactInformation"]["DoNotCall"]
            == body["DoNotCall"]
        ):
            # A write of what the contact already holds: a duplicate of an earlier save.
            state.counters.count(VENDOR, dealer, "saves_unchanged")
        for fault in state.faults.matching(VENDOR, dealer):
            if state.faults.hit(fault.drop_save_rate, VENDOR, dealer, number, "drop"):
                # The lost write: answered as saved, never kept.
                state.counters.count(VENDOR, dealer, "saves_dropped")
                contact = current_contact(state, dealer, index)
                contact["ContactInformation"]["DoNotCall"] = body["DoNotCall"]
                return contact
        state.crm_flags[(dealer, contact_id)] = body["DoNotCall"]
        return current_contact(state, dealer, index)

    return ui


def _require_session(state: SandboxState, request: Request, dealer: str) -> None:
    if state.ui_sessions.get(request.cookies.get(COOKIE, "")) != dealer:
        raise VendorError(401, "not_signed_in", f"sign in as {dealer}-user first")


def _index(state: SandboxState, contact_id: str) -> int:
    index = data.contact_index(contact_id, state.config.contacts_per_store)
    if index is None:
        raise VendorError(404, "not_found", f"no contact {contact_id!r}")
    return index


def _name(c: dict[str, Any]) -> str:
    info = c["ContactInformation"]
    return f"{info['LastName']}, {info['FirstName']}"


def _search(state: SandboxState, dealer: str, q: str) -> list[dict[str, Any]]:
    """By ContactId (exact) or by name (every word a prefix of first or last name)."""
    total = state.config.contacts_per_store
    index = data.contact_index(q, total)
    if index is not None:
        return [current_contact(state, dealer, index)]
    words = q.lower().replace(",", " ").split()
    found = []
    for i in range(total):
        c = current_contact(state, dealer, i)
        names = (
            c["ContactInformation"]["FirstName"].lower(),
            c["ContactInformation"]["LastName"].lower(),
        )
        if all(any(n.startswith(w) for n in names) for w in words):
            found.append(c)
            if len(found) >= MAX_RESULTS:
                break
    return found
