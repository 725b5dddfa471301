// hopwatch triage page: campaigns and alerts by severity then score, one alert's facts,
// PATCH status / verdict / note.
// Every field from the API is attacker-influenced (it comes from event logs), so text
// is only ever inserted with textContent; this file never parses HTML.
"use strict";

const KEY_SLOT = "hopwatch.apikey";
const PAGE = 50;
const $ = (id) => document.getElementById(id);
let cursor = null;
let current = null; // the alert shown in the detail pane

function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function say(text) {
  $("message").textContent = text;
}

function iso(seconds) {
  return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
}

function key() {
  return sessionStorage.getItem(KEY_SLOT) || "";
}

async function api(path, options = {}) {
  const headers = Object.assign({ "X-API-Key": key() }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) throw new Error("the API key is missing, unknown or revoked");
  if (response.status === 403) throw new Error("this API key lacks the scope for that (needs write)");
  if (response.status === 404) return null;
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = JSON.stringify((await response.json()).detail);
    } catch (_) { /* keep the status text */ }
    throw new Error(`${response.status}: ${detail}`);
  }
  return response.json();
}

function filterQuery() {
  const q = new URLSearchParams({ limit: String(PAGE), sort: $("f-sort").value || "-priority" });
  if ($("f-suppressed").value) q.set("suppressed", $("f-suppressed").value);
  if ($("f-severity").value) q.set("severity", $("f-severity").value);
  if ($("f-campaign").value.trim()) q.set("campaign", $("f-campaign").value.trim());
  const minScore = $("f-min-score").value.trim();
  if (minScore) q.set("min_score", minScore);
  if ($("f-status").value) q.set("status", $("f-status").value);
  if ($("f-host").value.trim()) q.set("host", $("f-host").value.trim());
  if ($("f-user").value.trim()) q.set("user", $("f-user").value.trim());
  if (cursor) q.set("cursor", cursor);
  return q;
}

async function loadList(reset) {
  if (reset) {
    cursor = null;
    clear($("alerts").tBodies[0]);
  }
  try {
    const page = await api("/alerts?" + filterQuery().toString());
    const body = $("alerts").tBodies[0];
    for (const a of page.items) {
      const row = el("tr");
      row.tabIndex = 0;
      const severity = a.suppressed ? `suppressed: ${a.suppressed_reason}` : a.severity;
      for (const cell of [severity, a.score.toFixed(3), iso(a.time),
        `${a.src_host} → ${a.dst_host}`, a.user, a.status]) {
        row.appendChild(el("td", cell));
      }
      row.addEventListener("click", () => showAlert(a.id));
      row.addEventListener("keydown", (e) => { if (e.key === "Enter") showAlert(a.id); });
      body.appendChild(row);
    }
    cursor = page.next_cursor;
    $("more").hidden = !cursor;
    say(`${body.rows.length} alerts shown${cursor ? " (more available)" : ""}`);
  } catch (err) {
    say(err.message);
  }
}

async function loadCampaigns() {
  const body = $("campaigns").tBodies[0];
  clear(body);
  try {
    const page = await api("/campaigns?sort=-priority&limit=20");
    for (const c of page.items) {
      const row = el("tr");
      row.tabIndex = 0;
      for (const cell of [c.severity, c.max_score.toFixed(3), c.hosts.join(" → "),
        c.users.join(", "), c.alert_count, iso(c.first_time)]) {
        row.appendChild(el("td", cell));
      }
      const open = () => { $("f-campaign").value = String(c.id); loadList(true); };
      row.addEventListener("click", open);
      row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      body.appendChild(row);
    }
    if (!page.items.length) {
      const tr = el("tr");
      const td = el("td", "no campaign");
      td.colSpan = 6;
      tr.appendChild(td);
      body.appendChild(tr);
    }
  } catch (err) {
    say(err.message);
  }
}

function fact(list, name, value) {
  list.appendChild(el("dt", name));
  list.appendChild(el("dd", value === null || value === undefined || value === "" ? "—" : value));
}

function fillTable(table, rows) {
  const body = table.tBodies[0];
  clear(body);
  for (const cells of rows) {
    const tr = el("tr");
    for (const c of cells) tr.appendChild(el("td", c));
    body.appendChild(tr);
  }
  if (!rows.length) {
    const tr = el("tr");
    const td = el("td", "none");
    td.colSpan = table.tHead.rows[0].cells.length;
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

async function showHops(alert) {
  const list = $("d-hops");
  clear(list);
  if (!alert.campaign_id) {
    list.appendChild(el("li", "not part of a campaign"));
    return;
  }
  const campaign = await api(`/campaigns/${alert.campaign_id}`);
  if (!campaign) return;
  for (const hop of campaign.hops) {
    const mark = hop.alert_id === alert.id ? "  ◀ this alert" : "";
    list.appendChild(el("li",
      `${iso(hop.time)}  ${hop.src_host} → ${hop.dst_host}  (${hop.user || "?"})  alert #${hop.alert_id}${mark}`));
  }
}

async function showSummary(alertId) {
  const summary = await api(`/alerts/${alertId}/summary`);
  $("d-summary").textContent = summary
    ? `${summary.text}  [${summary.source}, ${summary.model || "template"}]`
    : "no summary yet";
}

async function showAlert(id) {
  try {
    const a = await api(`/alerts/${id}`);
    if (!a) { say(`alert ${id} not found`); return; }
    current = a;
    $("detail-pane").hidden = false;
    $("d-title").textContent = `Alert #${a.id}: ${a.src_host} → ${a.dst_host}`;
    const facts = $("d-facts");
    clear(facts);
    fact(facts, "time", `${iso(a.time)} – ${iso(a.last_time)}`);
    fact(facts, "user", a.user);
    fact(facts, "accounts", a.users.join(", "));
    fact(facts, "score", `${a.score.toFixed(3)} (${a.detector})`);
    fact(facts, "scores", Object.entries(a.scores).map(([d, s]) => `${d} ${s.toFixed(3)}`).join(", "));
    fact(facts, "severity", a.severity);
    fact(facts, "suppressed", a.suppressed ? a.suppressed_reason : "no");
    fact(facts, "seen in windows", (a.occurrences || [a.window]).length);
    fact(facts, "ATT&CK", a.techniques.join(", "));
    fact(facts, "source IPs", a.src_ips.join(", "));
    fact(facts, "evidence", a.evidence.join("; "));
    fact(facts, "status", a.status);
    fact(facts, "verdict", a.verdict);
    fact(facts, "note", a.note);
    fillTable($("d-hits"), a.rule_hits.map((h) => [h.rule_id, h.title, h.severity,
      h.attack.join(", "), iso(h.time), h.host, h.user]));
    fillTable($("d-explanation"), a.explanation.map((c) => [c.text,
      Number(c.contribution).toFixed(2), c.group || c.feature]));
    const history = $("d-history");
    clear(history);
    for (const h of a.history) {
      history.appendChild(el("li", `${h.at}  ${h.actor}: ${JSON.stringify(h.changes)}`));
    }
    $("t-status").value = "";
    $("t-verdict").value = "";
    $("t-note").value = a.note || "";
    await Promise.all([showHops(a), showSummary(a.id)]);
  } catch (err) {
    say(err.message);
  }
}

async function saveTriage(event) {
  event.preventDefault();
  if (!current) return;
  const body = {};
  if ($("t-status").value) body.status = $("t-status").value;
  if ($("t-verdict").value) body.verdict = $("t-verdict").value;
  if ($("t-note").value !== (current.note || "")) body.note = $("t-note").value;
  if (!Object.keys(body).length) { say("nothing changed"); return; }
  try {
    await api(`/alerts/${current.id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    say(`alert ${current.id} saved`);
    await showAlert(current.id);
  } catch (err) {
    say(err.message);
  }
}

async function summarize() {
  if (!current) return;
  say("generating summary…");
  try {
    await api(`/alerts/${current.id}/summary`, { method: "POST" });
    await showSummary(current.id);
    say("summary ready");
  } catch (err) {
    say(err.message);
  }
}

function start() {
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY_SLOT, $("key").value.trim());
    $("key").value = "";
    $("who").textContent = "key set for this tab";
    loadCampaigns();
    loadList(true);
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_SLOT);
    $("who").textContent = "no key";
  });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); loadList(true); });
  $("more").addEventListener("click", () => loadList(false));
  $("triage-form").addEventListener("submit", saveTriage);
  $("d-summarize").addEventListener("click", summarize);
  if (key()) {
    $("who").textContent = "key set for this tab";
    loadCampaigns();
    loadList(true);
  } else {
    $("who").textContent = "enter an API key";
  }
}

document.addEventListener("DOMContentLoaded", start);
