// Drives service/static/triage.js in node against a live API with a minimal fake DOM
// (no browser here). Usage: node triage_harness.js HTML JS BASE_URL KEY ALERT_ID NOTE
// Prints one JSON line of what the page showed.
"use strict";
const fs = require("fs");
const vm = require("vm");

const [htmlPath, jsPath, base, key, alertId, note] = process.argv.slice(2);

class Node {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this._text = "";
    this.value = "";
    this.hidden = false;
    this.listeners = {};
    this.parentNode = null;
  }
  appendChild(c) { this.children.push(c); c.parentNode = this; return c; }
  removeChild(c) { this.children = this.children.filter((x) => x !== c); return c; }
  get firstChild() { return this.children[0] || null; }
  get rows() { return this.children; }
  set textContent(t) { this.children = []; this._text = t; }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
}

const ids = [...fs.readFileSync(htmlPath, "utf8").matchAll(/id="([^"]+)"/g)].map((m) => m[1]);
const byId = {};
for (const id of ids) {
  const node = new Node("div");
  if (["alerts", "campaigns", "d-hits", "d-explanation"].includes(id)) {
    node.tBodies = [new Node("tbody")];
    node.tHead = { rows: [{ cells: { length: 7 } }] };
  }
  byId[id] = node;
}
const store = new Map();
const docListeners = {};
const context = {
  document: {
    getElementById: (id) => byId[id],
    createElement: (tag) => new Node(tag),
    addEventListener: (type, fn) => { docListeners[type] = fn; },
  },
  sessionStorage: {
    getItem: (k) => (store.has(k) ? store.get(k) : null),
    setItem: (k, v) => store.set(k, String(v)),
    removeItem: (k) => store.delete(k),
  },
  fetch: (path, options) => fetch(base + path, options),
  URLSearchParams,
  JSON, Object, Promise, Number, String, Error, Date,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(jsPath, "utf8"), context);

const fire = (id, type) => Promise.all(
  (byId[id].listeners[type] || []).map((fn) => fn({ preventDefault() {} })));
const until = async (cond, what) => {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("timed out waiting for " + what);
};
const dd = (name) => {
  const facts = byId["d-facts"].children;
  const i = facts.findIndex((n) => n.tagName === "DT" && n.textContent === name);
  return i < 0 ? null : facts[i + 1].textContent;
};

(async () => {
  docListeners.DOMContentLoaded();
  const out = { before_key: byId.who.textContent };
  byId.key.value = key;
  await fire("key-form", "submit");
  const rows = () => byId.alerts.tBodies[0].children;
  const campaigns = () => byId.campaigns.tBodies[0].children;
  await until(() => rows().length > 0 && campaigns().length > 0, "the first screen");
  out.listed = rows().length;
  out.campaign_severities = campaigns().map((r) => r.children[0].textContent);
  out.first_severities = rows().slice(0, 20).map((r) => r.children[0].textContent);
  out.first_scores = rows().slice(0, 20).map((r) => Number(r.children[1].textContent));
  out.more_hidden = byId.more.hidden;
  out.first_row = rows()[0].children.map((c) => c.textContent);
  out.stored_key = store.size === 1;
  await fire("more", "click");
  out.after_more = rows().length;
  out.more_hidden_after = byId.more.hidden;
  await context.showAlert(Number(alertId));
  out.title = byId["d-title"].textContent;
  out.hops = byId["d-hops"].children.map((c) => c.textContent);
  out.hits = byId["d-hits"].tBodies[0].children.map((r) => r.children.map((c) => c.textContent));
  out.summary = byId["d-summary"].textContent;
  byId["t-status"].value = "triaged";
  byId["t-note"].value = note;
  await fire("triage-form", "submit");
  await until(() => dd("status") === "triaged", "the saved status");
  out.note_shown = dd("note");
  out.history = byId["d-history"].children.length;
  byId["f-status"].value = "triaged";
  await fire("filters", "submit");
  await until(() => rows().length === 1, "the filtered list");
  out.filtered = rows().map((r) => r.children[5].textContent);
  out.message = byId.message.textContent;
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(err.stack || String(err)); process.exit(1); });
