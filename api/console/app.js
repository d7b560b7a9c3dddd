/* hookline console: a small single-page app over the /v1 API. The key lives in
 * sessionStorage (this tab only) and travels as Authorization: Bearer; no cookies.
 * Everything shown is built with DOM nodes and textContent, never HTML strings, so
 * webhook data cannot inject markup. Times are shown in the browser's zone, UTC on hover. */
"use strict";

const KEY = "hookline.key";
const ENV = "hookline.env";
const state = { me: null, envs: [], env: sessionStorage.getItem(ENV) || "", poll: null };

function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") n.className = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    n.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return n;
}

function when(iso) {
  if (!iso) return el("span", { class: "muted" }, "–");
  const d = new Date(iso);
  const local = d.toLocaleString(undefined, { year: "numeric", month: "short", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit" });
  return el("time", { datetime: iso, title: d.toISOString().replace(".000Z", "Z") + " (UTC)" }, local);
}

function badge(s) { return s === null || s === undefined ? "" : el("span", { class: "badge " + s }, s); }

class ApiError extends Error {
  constructor(status, problem) { super(problem && problem.detail || ("HTTP " + status)); this.status = status; }
}

async function api(method, path, body) {
  const key = sessionStorage.getItem(KEY);
  const opts = { method, headers: { Authorization: "Bearer " + key }, credentials: "omit", cache: "no-store" };
  if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, opts);
  if (r.status === 401) { signOut("The key was refused: sign in again."); throw new ApiError(401, null); }
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) u.set(k, v);
  const s = u.toString();
  return s ? "?" + s : "";
}

function view(...kids) {
  const v = document.getElementById("view");
  v.replaceChildren(...kids.flat());
  v.hidden = false;
  return v;
}

function table(cols, rows, empty) {
  if (!rows.length) return el("p", { class: "empty" }, empty || "Nothing here.");
  return el("table", {},
    el("thead", {}, el("tr", {}, cols.map(c => el("th", { scope: "col" }, c[0])))),
    el("tbody", {}, rows.map(r => el("tr", {}, cols.map(c => el("td", { class: c[2] || null }, c[1](r)))))));
}

function copyButton(text) {
  return el("button", { type: "button", class: "copy secondary", title: "Copy",
    onclick: () => navigator.clipboard && navigator.clipboard.writeText(text) }, "copy");
}

function showError(e) {
  view(el("p", { class: "error", role: "alert" }, e.status === 404 ? "Not found." : "Error: " + e.message));
}

/* A paginated list: load(cursor) returns {data, next_cursor}; render(rows) makes the table. */
async function pagedList(heading, filters, load, render) {
  let rows = [], cursor = null;
  const holder = el("div");
  const more = el("button", { type: "button", class: "secondary", hidden: true,
    onclick: async () => { await next(); } }, "Load more");
  async function next() {
    const page = await load(cursor);
    rows = rows.concat(page.data);
    cursor = page.next_cursor;
    holder.replaceChildren(render(rows));
    more.hidden = !cursor;
  }
  view(el("h1", {}, heading), filters || "", holder, el("div", { class: "pager" }, more));
  await next();
}

/* ---- pages ------------------------------------------------------------------------------ */

const STATUSES = ["", "received", "routed", "unattributed", "retrying", "delivered", "dead-lettered", "quarantined", "dropped-duplicate"];

async function pageWebhooks(params) {
  const f = Object.assign({ env: state.env }, params);
  const input = (name, label, attrs) => el("label", {}, label,
    el("input", Object.assign({ name, value: f[name] || "" }, attrs || {})));
  const form = el("form", { class: "filters", id: "webhook-filters", onsubmit: ev => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(ev.target).entries());
    if (data.webhook_id) { location.hash = "#/webhook/" + encodeURIComponent(data.webhook_id.trim()); return; }
    location.hash = "#/webhooks" + qs(data);
  } },
    input("webhook_id", "Webhook id", { id: "find-webhook", placeholder: "paste an id", size: 38, class: "mono" }),
    input("integration", "Integration"), input("connection", "Connection"), input("event_type", "Event type"),
    el("label", {}, "Status", el("select", { name: "status" },
      STATUSES.map(s => el("option", { value: s, selected: s === (f.status || "") }, s || "any")))),
    input("since", "Since (UTC)", { type: "datetime-local" }), input("until", "Until (UTC)", { type: "datetime-local" }),
    el("button", { type: "submit" }, "Search"));
  const q = Object.assign({}, f);
  for (const t of ["since", "until"]) if (q[t] && !/Z$/.test(q[t])) q[t] = q[t] + "Z";
  await pagedList("Webhooks", form, cursor => api("GET", "/v1/webhooks" + qs(Object.assign({}, q, { cursor }))),
    rows => table([
      ["Received", r => when(r.received_at)],
      ["Webhook", r => el("a", { href: "#/webhook/" + r.webhook_id, class: "mono" }, r.webhook_id), "mono"],
      ["Integration", r => r.integration],
      ["Event", r => r.event_type || ""],
      ["Connections", r => (r.connections || []).join(", ")],
      ["Status", r => badge(r.status)],
    ], rows, "No webhooks match."));
}

function describe(e) {
  const d = e.detail || {};
  switch (e.kind) {
    case "received": return ["Received", `${d.verified || ""}, ${d.bytes ?? "?"} bytes`];
    case "routed": return ["Attributed", e.connection_id ? "to connection " + e.connection_id : "to no connection"];
    case "attempt": case "retry":
      if (e.result === "retry-scheduled") return ["Retry scheduled", `for ${e.destination} (pass ${e.pass + 1})`];
      if (e.result === "dead-lettered") return ["Gave up", `on ${e.destination}: handed to the dead letters`];
      if (e.result === "parked") return ["Parked", `${e.destination}: its circuit is open, next pass later`];
      return [e.kind === "retry" ? `Retry (pass ${e.pass})` : "Delivery attempt",
        `#${e.attempt} → ${e.destination}: ${e.result}, HTTP ${e.http_status || "–"}, ` +
        `${Math.round(e.latency_ms)} ms${e.error && e.error !== "HTTP " + e.http_status ? ", " + e.error : ""}`];
    case "dead-lettered": return ["Dead-lettered",
      `${d.destination || ""}: ${d.error || ""} after ${d.attempts || "?"} attempts`];
    case "redriven": return ["Redriven", `to ${d.destination || ""}`];
    case "quarantined": return ["Quarantined", `by ${d.stage || "?"}: ${d.reason || ""}`];
    case "dropped-duplicate": return ["Dropped as a copy",
      `provider event ${d.provider_event_id || "?"} was already sent as webhook ${d.duplicate_of || "?"}`];
    case "sync-run": return ["Sync run started", `${d.sync} (${e.result}), run ${e.sync_run_id}`];
    default: return [e.kind, ""];
  }
}

async function pageWebhook(id) {
  const w = await api("GET", "/v1/webhooks/" + encodeURIComponent(id));
  const good = e => e.result === "delivered" || e.kind === "received" || e.kind === "redriven";
  const bad = e => ["failed", "refused", "gone"].includes(e.result) || e.kind === "dead-lettered" ||
    e.kind === "quarantined";
  view(
    el("p", {}, el("a", { href: "#/webhooks" }, "← all webhooks")),
    el("h1", {}, "Webhook ", el("span", { class: "mono", id: "webhook-id" }, w.webhook_id), copyButton(w.webhook_id)),
    el("dl", { class: "facts" },
      el("dt", {}, "Status"), el("dd", { id: "webhook-status" }, badge(w.status)),
      el("dt", {}, "Received"), el("dd", {}, when(w.received_at)),
      el("dt", {}, "Integration"), el("dd", {}, `${w.integration} (${w.provider}), ${w.verified || ""}`),
      el("dt", {}, "Event type"), el("dd", {}, w.event_type || "–"),
      el("dt", {}, "Connections"), el("dd", {}, (w.connections || []).join(", ") || "none")),
    el("h2", {}, "Timeline"),
    el("ol", { class: "timeline", id: "timeline" }, w.timeline.map(e => {
      const [what, text] = describe(e);
      return el("li", { class: good(e) ? "good" : bad(e) ? "bad" : null, "data-kind": e.kind },
        when(e.at), " ", el("span", { class: "what" }, what), el("span", {}, text));
    })));
}

async function pageEnvironments() {
  const envs = await api("GET", "/v1/environments?limit=500");
  const parts = [el("h1", {}, "Environments and integrations")];
  for (const e of envs.data) {
    const integ = await api("GET", `/v1/environments/${e.id}/integrations?limit=500`);
    parts.push(el("h2", {}, e.name, " ", el("span", { class: "muted mono" }, e.id)),
      el("p", {}, "Delivers to ", el("span", { class: "mono" }, e.webhook_url || "(no URL)"),
        e.secondary_webhook_url ? [" and ", el("span", { class: "mono" }, e.secondary_webhook_url)] : "",
        `, ${e.forward_mode} mode`),
      table([
        ["Integration", r => r.key], ["Provider", r => r.provider],
        ["Webhook URL to paste into the provider", r => [el("span", { class: "mono" }, r.webhook_url),
          copyButton(r.webhook_url)]],
        ["Secret", r => r.has_webhook_secret || r.has_client_secret ? "set" : (r.allow_unverified ? "unverified" : "none")],
        ["Forwarding", r => r.forward_enabled ? "on" : "off"],
      ], integ.data, "No integrations."));
  }
  view(parts);
}

async function pageConnections() {
  if (!state.env) return view(el("p", {}, "Choose an environment."));
  await pagedList("Connections", "", cursor => api("GET", `/v1/environments/${state.env}/connections` + qs({ cursor })),
    rows => table([
      ["Integration", r => r.integration], ["Connection", r => r.connection_id, "mono"],
      ["Config", r => JSON.stringify(r.config), "mono"], ["Metadata", r => JSON.stringify(r.metadata), "mono"],
      ["URL override", r => r.webhook_url_override || "", "mono"], ["Created", r => when(r.created_at)],
    ], rows, "No connections."));
}

// A redrive button, and an optional new URL (the app moved); empty: the destination that failed.
function redriveCell(r) {
  const url = el("input", { type: "url", class: "redrive-url", placeholder: "new URL (optional)",
    "aria-label": "redrive to a new URL (optional)" });
  const button = el("button", { type: "button", class: "redrive", "data-id": r.id, onclick: async ev => {
    ev.target.disabled = true;
    ev.target.textContent = "Redriving…";
    try {
      const to = url.value.trim();
      await api("POST", `/v1/dead-letters/${r.id}/redrive`, to ? { url: to } : undefined);
      ev.target.textContent = to ? "Redriven to the new URL" : "Redriven";
    } catch (e) { ev.target.textContent = "Failed: " + e.message; ev.target.disabled = false; }
  } }, "Redrive");
  return el("span", { class: "redrive-cell" }, url, " ", button);
}

async function pageDeadLetters() {
  const canWrite = state.me && state.me.scope === "write";
  await pagedList("Dead letters", "", cursor => api("GET", "/v1/dead-letters" + qs({ env: state.env, cursor })),
    rows => table([
      ["Dead-lettered", r => when(r.dead_lettered_at)],
      ["Webhook", r => el("a", { href: "#/webhook/" + r.webhook_id, class: "mono" }, r.webhook_id), "mono"],
      ["Destination", r => r.destination, "mono"], ["Last status", r => r.status ?? "–"],
      ["Error", r => r.error || ""], ["Redriven", r => when(r.redriven_at)],
      ["", r => canWrite ? redriveCell(r) : ""],
    ], rows, "No dead letters."));
}

async function pageDestinations() {
  await pagedList("Destinations (last 24 hours)", "", cursor => api("GET", "/v1/destinations" + qs({ env: state.env, cursor })),
    rows => table([
      ["Destination", r => r.url, "mono"], ["Health", r => r.gone ? badge("gone") : badge(
        r.success_rate === null ? "idle" : r.success_rate >= 0.99 ? "ok" : r.success_rate >= 0.5 ? "degraded" : "failing")],
      ["Circuit", r => r.circuit === "closed" ? badge("closed") : el("span", {
        title: `since ${r.circuit_since}, after ${r.circuit_failures} failed passes (${r.circuit_forwarders} forwarder(s))` },
        badge(r.circuit))],
      ["Success", r => r.success_rate === null ? "–" : (r.success_rate * 100).toFixed(1) + "%"],
      ["Attempts", r => r.attempts], ["Avg latency", r => r.avg_latency_ms === null ? "–" : r.avg_latency_ms + " ms"],
      ["p95", r => r.p95_latency_ms === null ? "–" : r.p95_latency_ms + " ms"],
      ["Last attempt", r => when(r.last_attempt_at)], ["Last error", r => r.last_error || ""],
    ], rows, "No destinations."));
}

async function pageSyncRuns() {
  await pagedList("Sync runs", "", cursor => api("GET", "/v1/sync-runs" + qs({ env: state.env, cursor })),
    rows => table([
      ["Created", r => when(r.created_at)], ["Sync", r => `${r.integration}/${r.sync}`],
      ["Connection", r => r.connection_id, "mono"], ["Status", r => badge(r.status)], ["Attempts", r => r.attempts],
      ["Webhook", r => el("a", { href: "#/webhook/" + r.webhook_id, class: "mono" }, r.webhook_id), "mono"],
      ["Last error", r => r.last_error || ""], ["Finished", r => when(r.finished_at)],
    ], rows, "No sync runs."));
}

/* Replays: a form that starts one (POST /v1/replays) and the list, polled every second
 * while one runs (the API writes progress about every 500 ms). */
function replayRows(rows, canWrite, refresh) {
  return table([
    ["Started", r => when(r.created_at)], ["Id", r => r.id, "mono"], ["Stage", r => r.stage],
    ["Window", r => [when(r.from), " → ", when(r.to)]],
    ["Filters", r => Object.entries(r.filters || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "none", "mono"],
    ["Status", r => [badge(r.status), r.dry_run ? " dry run" : ""]],
    ["Read", r => `${r.read} / ${r.total}`], ["Matched", r => r.matched], ["Published", r => r.published],
    ["Error", r => r.error || ""],
    ["", r => canWrite && r.status === "running" ? el("button", { type: "button", class: "cancel secondary",
      disabled: r.cancel_requested, onclick: async ev => {
        ev.target.disabled = true;
        try { await api("POST", `/v1/replays/${r.id}/cancel`); } catch (e) { ev.target.textContent = "Failed: " + e.message; }
        refresh();
      } }, r.cancel_requested ? "Cancelling…" : "Cancel") : ""],
  ], rows, "No replays yet.");
}

async function pageReplays() {
  const canWrite = state.me && state.me.scope === "write";
  const holder = el("div", { id: "replays" });
  const problem = el("p", { class: "error", role: "alert", id: "replay-error" });
  async function refresh() {
    if (state.poll) { clearTimeout(state.poll); state.poll = null; }
    const page = await api("GET", "/v1/replays" + qs({ env: state.env, limit: 50 }));
    holder.replaceChildren(replayRows(page.data, canWrite, refresh));
    if (page.data.some(r => r.status === "running") && location.hash.startsWith("#/replays"))
      state.poll = setTimeout(() => refresh().catch(showError), 1000);
  }
  const input = (name, label, attrs) => el("label", {}, label, el("input", Object.assign({ name }, attrs || {})));
  const form = el("form", { class: "filters", id: "replay-form", onsubmit: async ev => {
    ev.preventDefault();
    const d = Object.fromEntries(new FormData(ev.target).entries());
    const filters = {};
    if (state.env) filters.env = state.env;
    for (const k of ["integration", "provider", "connection", "event_type"]) if (d[k]) filters[k] = d[k].trim();
    const ids = (d.webhook_ids || "").split(/[\s,]+/).filter(Boolean);
    if (ids.length) filters.webhook_ids = ids;
    const body = { stage: d.stage, from: d.from.trim(), filters, dry_run: d.dry_run === "on" };
    if (d.to) body.to = d.to.trim();
    if (d.rate) body.rate = Number(d.rate);
    problem.textContent = "";
    try { await api("POST", "/v1/replays", body); await refresh(); }
    catch (e) { problem.textContent = "Cannot start: " + e.message; }
  } },
    el("label", {}, "Stage", el("select", { name: "stage" }, ["forwarder", "syncer", "router"].map(s => el("option", { value: s }, s)))),
    input("from", "From (RFC 3339 or -2h)", { required: true, value: "-1h", size: 22 }),
    input("to", "To (default now)", { size: 22 }),
    input("integration", "Integration"), input("provider", "Provider"), input("connection", "Connection"),
    input("event_type", "Event type"), input("webhook_ids", "Webhook ids", { size: 38, class: "mono" }),
    input("rate", "Rate (per second)", { type: "number", min: "0.01", step: "any", size: 6 }),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "dry_run", checked: true }), "Dry run"),
    el("button", { type: "submit", disabled: !canWrite, title: canWrite ? null : "needs a write key" }, "Start replay"));
  view(el("h1", {}, "Replays"),
    el("p", { class: "muted" }, "Sends a time window of one stage's input through that stage again; apps get the " +
      "same webhook-id plus X-Hookline-Replay-Id. " + (state.env ? "Limited to the chosen environment." :
      "All environments (choose one above to limit it).")),
    form, problem, holder);
  await refresh();
}

/* ---- shell ------------------------------------------------------------------------------ */

function signOut(message) {
  sessionStorage.removeItem(KEY);
  state.me = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("env-select").hidden = true;
  document.getElementById("whoami").textContent = "";
  document.getElementById("view").hidden = true;
  document.getElementById("sign-in").hidden = false;
  document.getElementById("sign-in-error").textContent = message || "";
  document.getElementById("api-key").focus();
}

async function signIn() {
  state.me = await api("GET", "/v1/me");
  state.envs = (await api("GET", "/v1/environments?limit=500")).data;
  const sel = document.getElementById("env-select");
  sel.replaceChildren(el("option", { value: "" }, "all environments"),
    ...state.envs.map(e => el("option", { value: e.id, selected: e.id === state.env }, e.name)));
  if (state.envs.length === 1 && !state.env) { state.env = state.envs[0].id; sel.value = state.env; }
  sel.hidden = false;
  document.getElementById("whoami").textContent = `key ${state.me.key_id} (${state.me.scope})`;
  document.getElementById("sign-in").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").hidden = false;
  await route();
}

async function route() {
  if (!state.me) return;
  const [path, query] = (location.hash.slice(1) || "/webhooks").split("?");
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  for (const a of document.querySelectorAll("nav a"))
    a.classList.toggle("active", path.startsWith(a.getAttribute("href").slice(1)));
  if (state.poll) { clearTimeout(state.poll); state.poll = null; }
  document.getElementById("main").setAttribute("aria-busy", "true");
  try {
    if (path.startsWith("/webhook/")) await pageWebhook(decodeURIComponent(path.slice(9)));
    else if (path === "/environments") await pageEnvironments();
    else if (path === "/connections") await pageConnections();
    else if (path === "/dead-letters") await pageDeadLetters();
    else if (path === "/destinations") await pageDestinations();
    else if (path === "/sync-runs") await pageSyncRuns();
    else if (path === "/replays") await pageReplays();
    else await pageWebhooks(params);
  } catch (e) {
    if (e.status !== 401) showError(e);
  } finally {
    document.getElementById("main").setAttribute("aria-busy", "false");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-in-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, document.getElementById("api-key").value.trim());
    document.getElementById("api-key").value = "";
    try { await signIn(); } catch (e) { if (e.status !== 401) signOut("Cannot sign in: " + e.message); }
  });
  document.getElementById("sign-out").addEventListener("click", () => signOut(""));
  document.getElementById("env-select").addEventListener("change", ev => {
    state.env = ev.target.value;
    sessionStorage.setItem(ENV, state.env);
    route();
  });
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", ev => {
    if (!state.me || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target.tagName;
    if (t === "INPUT" || t === "SELECT" || t === "TEXTAREA") return;
    if (ev.key === "/") {
      ev.preventDefault();
      if (!document.getElementById("find-webhook")) location.hash = "#/webhooks";
      setTimeout(() => { const f = document.getElementById("find-webhook"); if (f) f.focus(); }, 50);
    } else if (ev.key === "r") route();
    else {
      const a = document.querySelector(`nav a[data-key="${ev.key}"]`);
      if (a) location.hash = a.getAttribute("href");
    }
  });
  if (sessionStorage.getItem(KEY)) signIn().catch(e => { if (e.status !== 401) signOut("Cannot sign in: " + e.message); });
  else signOut("");
});
