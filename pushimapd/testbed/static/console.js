// pushimapd test bed console: one small script for every page (no build step).
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");

function withToken(url) {
  if (!TOKEN) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(withToken(path), options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function stream(path, handlers) {
  const source = new EventSource(withToken(path));
  for (const [name, handle] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
  }
  return source;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function when(ts) {
  if (!ts) return "";
  return new Date(ts * 1000).toLocaleTimeString([], {hour12: false}) + "." + String(Math.floor((ts % 1) * 1000)).padStart(3, "0");
}

function formValues(form) {
  const values = {};
  for (const [key, value] of new FormData(form).entries()) {
    if (String(value).trim() !== "") values[key] = String(value).trim();
  }
  return values;
}

function showResult(form, text, ok) {
  const out = form.querySelector(".result");
  out.textContent = text;
  out.className = "result " + (ok ? "ok" : "error");
}

function showFieldsFor(form) {
  const kind = form.elements.kind;
  if (!kind) return;
  const update = () => {
    form.querySelectorAll("[data-for]").forEach((span) => {
      span.classList.toggle("hidden", !span.dataset.for.split(" ").includes(kind.value));
    });
  };
  kind.addEventListener("change", update);
  update();
}

async function fillUsers() {
  const selects = document.querySelectorAll("select.users");
  if (!selects.length) return;
  const users = await api("/api/users");
  selects.forEach((select) => {
    select.replaceChildren(...users.map((name) => el("option", {value: name}, name)));
  });
}

// -- sessions -------------------------------------------------------------------------
function sessionRow(s) {
  const commands = (s.commands || []).slice(-3).map((c) => el("div", {class: "mono"}, c));
  const enabled = (s.enabled || []).map((c) => el("span", {class: "pill"}, c));
  const state = s.state + (s.idling ? " (IDLE)" : "");
  return el("tr", {"data-session-id": s.id, class: s.state === "closed" ? "closed" : ""},
    el("td", {}, s.id), el("td", {class: "user"}, s.user || "—"), el("td", {class: "mono"}, s.peer),
    el("td", {class: "state"}, state), el("td", {class: "mailbox"}, s.selected || ""), el("td", {}, enabled),
    el("td", {}, commands), el("td", {}, el("a", {href: withToken("/session?id=" + s.id)}, "trace")));
}

function pageSessions() {
  const body = document.querySelector("#sessions tbody");
  const count = () => {
    const open = body.querySelectorAll("tr:not(.closed)").length;
    document.getElementById("session-count").textContent = `(${open} open)`;
  };
  stream("/api/stream", {
    session: (s) => {
      const row = sessionRow(s);
      const old = body.querySelector(`tr[data-session-id="${s.id}"]`);
      if (old) old.replaceWith(row);
      else if (s.state === "closed") body.append(row);
      else body.prepend(row);
      count();
    },
  });
}

// -- one session's trace ------------------------------------------------------------------
function pageSession() {
  const id = new URLSearchParams(location.search).get("id");
  const pre = document.getElementById("trace");
  const info = document.getElementById("session-info");
  document.getElementById("session-title").textContent = "Session " + id;
  const showInfo = (s) => {
    info.replaceChildren(
      el("span", {}, "user ", el("b", {}, s.user || "—"), " · peer ", s.peer, " · state ", s.state,
        s.selected ? " · mailbox " + s.selected : "", s.trace_file ? " · file " + s.trace_file : ""));
  };
  api("/api/sessions/" + id).then(showInfo).catch((e) => { info.textContent = e.message; });
  stream("/api/stream", {session: (s) => { if (String(s.id) === id) showInfo(s); }});
  stream("/api/sessions/" + id + "/stream", {
    line: (line) => {
      const direction = line.split(" ")[1];
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(el("span", {class: direction === "*" ? "dir-note" : "dir-" + direction}, line + "\n"));
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    },
  });
}

// -- push ------------------------------------------------------------------------------------
function attemptRow(a) {
  return el("tr", {"data-delivery": a.delivery},
    el("td", {}, when(a.time)), el("td", {}, a.delivery), el("td", {}, a.user), el("td", {}, a.kind.toUpperCase()),
    el("td", {class: "mono"}, a.url), el("td", {}, a.attempt), el("td", {}, a.status === null ? "—" : a.status),
    el("td", {class: "outcome outcome-" + a.outcome}, a.outcome + (a.retry_in ? ` (in ${a.retry_in}s)` : "")),
    el("td", {}, a.detail + (a.simulated ? " — fault: " + a.simulated : "")));
}

let pushLoads = 0;  // answers of overlapping loads can arrive out of order: only the newest is shown

async function loadPush() {
  const ticket = ++pushLoads;
  const state = await api("/api/push");
  if (ticket !== pushLoads) return;
  const fill = (selector, rows) => document.querySelector(selector + " tbody").replaceChildren(...rows);
  fill("#registrations", state.registrations.map((r) => el("tr", {},
    el("td", {}, r.user), el("td", {}, r.kind), el("td", {class: "mono"}, r.url),
    el("td", {}, r.payload_bytes + " bytes"), el("td", {}, when(r.registered_at)))));
  fill("#deliveries", state.deliveries.map((d) => el("tr", {},
    el("td", {}, d.id), el("td", {}, d.user), el("td", {}, d.kind), el("td", {class: "mono"}, d.url),
    el("td", {}, d.attempts), el("td", {}, when(d.next_attempt_at)), el("td", {}, d.last_error || ""))));
  fill("#attempts", state.attempts.map(attemptRow));
  fill("#tokens", state.device_tokens.map((t) => el("tr", {},
    el("td", {}, t.user), el("td", {class: "mono"}, t.token), el("td", {}, when(t.refreshed_at)))));
}

function pagePush() {
  let pending = null;
  const reload = () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; loadPush(); }, 150);
  };
  loadPush();
  stream("/api/stream", {push: reload});
  setInterval(loadPush, 5000);  // registrations and deliveries made by clients
  const form = document.getElementById("quick-deliver");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const done = await api("/api/events", Object.assign({kind: "deliver"}, formValues(form)));
      showResult(form, done.result, true);
      setTimeout(loadPush, 300);
    } catch (e) { showResult(form, e.message, false); }
  });
}

// -- faults ----------------------------------------------------------------------------------
function faultRows(faults) {
  return faults.map((f) => el("tr", {"data-fault-id": f.id},
    el("td", {}, f.id), el("td", {}, f.user), el("td", {class: "mono"}, f.description),
    el("td", {}, f.remaining === null ? "until cleared" : f.remaining), el("td", {}, f.fired),
    el("td", {}, when(f.created_at)),
    el("td", {}, el("button", {type: "button", class: "secondary clear", onclick: () => clearFaults({id: f.id})}, "Clear"))));
}

async function clearFaults(which) {
  await api("/api/faults/clear", which);
  await reloadFaults();
}

function renderFaults(faults) {
  document.querySelector("#faults tbody").replaceChildren(...faultRows(faults));
}

// Every change of the table is streamed; a list fetched with GET is shown only
// when no streamed one arrived while it was on its way (it may be older: a fault
// can fire between the GET and its answer reaching the page).
let faultsStreamed = 0;

async function reloadFaults() {
  const seen = faultsStreamed;
  const faults = await api("/api/faults");
  if (seen === faultsStreamed) renderFaults(faults);
}

function pageFaults() {
  const form = document.getElementById("fault-form");
  showFieldsFor(form);
  reloadFaults();
  stream("/api/stream", {faults: (faults) => { faultsStreamed += 1; renderFaults(faults); }});
  document.getElementById("clear-all").addEventListener("click", () => clearFaults({}));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    const kind = form.elements.kind.value;
    form.querySelectorAll("input, select").forEach((input) => {
      const span = input.closest("[data-for]");
      if (span && !span.dataset.for.split(" ").includes(kind)) return;
      if (input.name && String(input.value).trim() !== "") values[input.name] = input.value.trim();
    });
    try {
      const fault = await api("/api/faults", values);
      showResult(form, `fault ${fault.id} added: ${fault.description}`, true);
      await reloadFaults();
    } catch (e) { showResult(form, e.message, false); }
  });
}

// -- events ----------------------------------------------------------------------------------
function pageEvents() {
  const deliverForm = document.getElementById("deliver-form");
  deliverForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const values = Object.assign(formValues(deliverForm), {kind: "deliver"});
      showResult(deliverForm, (await api("/api/events", values)).result, true);
    } catch (e) { showResult(deliverForm, e.message, false); }
  });
  const eventForm = document.getElementById("event-form");
  showFieldsFor(eventForm);
  eventForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const kind = eventForm.elements.kind.value;
    const values = {};
    eventForm.querySelectorAll("input, select").forEach((input) => {
      const span = input.closest("[data-for]");
      if (span && !span.dataset.for.split(" ").includes(kind)) return;
      if (input.name && String(input.value).trim() !== "") values[input.name] = input.value.trim();
    });
    try {
      showResult(eventForm, (await api("/api/events", values)).result, true);
    } catch (e) { showResult(eventForm, e.message, false); }
  });
}

const PAGES = {sessions: pageSessions, session: pageSession, push: pagePush, faults: pageFaults, events: pageEvents};

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("nav a").forEach((a) => { a.href = withToken(a.getAttribute("href")); });
  fillUsers().catch(() => {});
  const page = PAGES[document.body.dataset.page];
  if (page) page();
});
