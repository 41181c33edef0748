// Admin: failed events (dead letters) — list, retry once the cause is fixed,
// or discard. The API never sends what the user wrote, only what failed.

import { api, el, notify, ready, t, when } from "./api.js";

const $ = (id) => document.getElementById(id);

function row(item) {
  const kind = item.message_type ? `${item.event_type} · ${item.message_type}` : item.event_type;
  return el(
    "tr",
    { dataset: { eventId: item.event_id } },
    el("td", {}, when(item.died_at)),
    el("td", { class: "mono" }, item.chat_id),
    el("td", {}, kind),
    el("td", {}, String(item.attempts)),
    el("td", {}, when(item.first_failed)),
    el("td", { class: "mono" }, item.error),
    el(
      "td",
      { class: "actions" },
      el("button", { type: "button", class: "primary", onclick: () => retry(item) }, t("Retry")),
      el("button", { type: "button", class: "danger", onclick: () => discard(item) }, t("Discard")),
    ),
  );
}

/** Keep the nav link's badge true to the list (it was drawn with the page). */
function showCount(count) {
  const link = $("nav-failed");
  if (!link) return;
  let badge = link.querySelector(".badge");
  if (!count) {
    badge?.remove();
    return;
  }
  if (!badge) {
    badge = el("span", { class: "badge" });
    link.append(badge);
  }
  badge.textContent = String(count);
}

async function load() {
  try {
    const { deadletters } = await api("GET", "/deadletters");
    const rows = deadletters.length
      ? deadletters.map(row)
      : [el("tr", { class: "empty" }, el("td", { colspan: 7, class: "muted" }, t("No failed events.")))];
    $("failed").tBodies[0].replaceChildren(...rows);
    showCount(deadletters.length);
  } catch (error) {
    notify(error.message, "error");
  }
}

async function retry(item) {
  try {
    await api("POST", `/deadletters/${encodeURIComponent(item.event_id)}/retry`);
    notify(t("Handed to a worker again."));
  } catch (error) {
    notify(error.message, "error");
  }
  load();
}

async function discard(item) {
  if (!window.confirm(t("Discard this event? It will never be answered."))) return;
  try {
    await api("DELETE", `/deadletters/${encodeURIComponent(item.event_id)}`);
    notify(t("Discarded."));
  } catch (error) {
    notify(error.message, "error");
  }
  load();
}

ready(load());
