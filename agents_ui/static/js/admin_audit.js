// Admin: the audit trail, newest first, filtered and paged with `next`.

import { api, el, notify, ready, when } from "./api.js";

const $ = (id) => document.getElementById(id);
let cursor = null;

function details(entry) {
  const parts = {};
  for (const name of ["before", "after", "detail"]) {
    const value = entry[name];
    if (value !== null && value !== undefined && !(typeof value === "object" && !Object.keys(value).length)) {
      parts[name] = value;
    }
  }
  return Object.keys(parts).length ? el("pre", { class: "json" }, JSON.stringify(parts, null, 1)) : "";
}

async function load(more = false) {
  const query = new URLSearchParams({ limit: "50" });
  for (const name of ["actor", "action", "target"]) {
    const value = $(`f-${name}`).value.trim();
    if (value) query.set(name, value);
  }
  if (more && cursor) query.set("before", cursor);
  try {
    const page = await api("GET", `/audit?${query}`);
    const rows = page.entries.map((entry) =>
      el(
        "tr",
        {},
        el("td", {}, when(entry.at)),
        el("td", {}, entry.actor || ""),
        el("td", { class: "mono" }, entry.action),
        el("td", { class: "mono" }, entry.target || ""),
        el("td", {}, details(entry)),
      ),
    );
    const body = $("audit").tBodies[0];
    if (more) body.append(...rows);
    else body.replaceChildren(...rows);
    cursor = page.next;
    $("older").hidden = !cursor;
  } catch (error) {
    notify(error.message, "error");
  }
}

$("audit-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
$("older").addEventListener("click", () => load(true));
ready(load());
