// Admin: the settings document as a form. Each registered key gets an input
// fitting its value (checkbox, number, choice, text, or JSON for structures);
// only changed keys are sent, and a refusal names the key at fault.

import { api, el, notify, ready, t } from "./api.js";

const $ = (id) => document.getElementById(id);
const CHOICES = { handoff_if_expired: ["ask", "hold", "push"] };
const GROUPS = {
  hours: ["business_hours", "handoff_closed_text"],
  delivery: ["handoff_if_expired", "free_only", "budget_warn_percent", "budget_hold_percent", "agent_daily_push_cap", "quota_plan", "quota_country", "quota_plans"],
  handoff: ["fallbacks_before_offer", "fallbacks_before_handoff", "handoff_ack_text", "handoff_auto_close_minutes", "handoff_agent_idle_minutes", "handoff_agent_wait_seconds"],
};
let current = {};
let inputs = {};

function groupOf(name) {
  for (const [group, names] of Object.entries(GROUPS)) if (names.includes(name)) return group;
  return "other";
}

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** Business hours as a form: on/off, time zone, each day's ranges, holidays. */
function hoursEditor(value) {
  const box = el("div", { id: "s-business_hours", class: "hours-editor" });
  const weekly = value.weekly || {};
  box.append(
    el("label", {}, el("input", { type: "checkbox", name: "enabled", checked: value.enabled }), " ", t("People answer only within these hours")),
    el("label", {}, t("Time zone"), " ", el("input", { name: "timezone", value: value.timezone || "Asia/Tokyo" })),
    ...DAYS.map((day) =>
      el(
        "label",
        { class: "day" },
        el("span", {}, t(day)),
        el("input", {
          name: day,
          placeholder: t("closed all day"),
          value: (weekly[day] || []).map((range) => range.join("-")).join(", "),
        }),
      ),
    ),
    el("label", {}, t("Holidays"), " ", el("input", { name: "holidays", placeholder: "2026-12-31, 2027-01-01", value: (value.holidays || []).join(", ") })),
  );
  box.readValue = () => {
    const field = (name) => box.querySelector(`[name="${name}"]`);
    const weeklyOut = {};
    for (const day of DAYS) {
      const text = field(day).value.trim();
      if (!text) continue;
      weeklyOut[day] = text.split(",").map((range) => {
        const parts = range.trim().split("-").map((part) => part.trim());
        if (parts.length !== 2 || !parts[0] || !parts[1]) {
          throw new Error(t("{day}: write ranges as 09:00-18:00", { day: t(day) }));
        }
        return parts;
      });
    }
    return {
      enabled: field("enabled").checked,
      timezone: field("timezone").value.trim(),
      weekly: weeklyOut,
      holidays: field("holidays").value.split(",").map((d) => d.trim()).filter(Boolean),
    };
  };
  return box;
}

function inputFor(name, value) {
  const id = `s-${name}`;
  if (name === "business_hours" && value && typeof value === "object") return hoursEditor(value);
  if (typeof value === "boolean") return el("input", { id, type: "checkbox", checked: value });
  if (typeof value === "number") return el("input", { id, type: "number", value: String(value) });
  if (CHOICES[name]) {
    return el("select", { id }, CHOICES[name].map((c) => el("option", { value: c, selected: c === value }, t(c))));
  }
  if (typeof value === "string" && value.length < 80 && !value.includes("\n")) {
    return el("input", { id, value });
  }
  if (typeof value === "string") {
    const area = el("textarea", { id, rows: "3" });
    area.value = value;
    return area;
  }
  const area = el("textarea", { id, class: "code", rows: "8", spellcheck: "false" });
  area.value = JSON.stringify(value, null, 2);
  return area;
}

function read(name) {
  const input = inputs[name];
  if (input.readValue) return input.readValue();
  const before = current[name];
  if (typeof before === "boolean") return input.checked;
  if (typeof before === "number") return Number(input.value);
  if (typeof before === "string" || input.tagName === "SELECT") return input.value;
  return JSON.parse(input.value);
}

async function load() {
  try {
    const [values, keys] = await Promise.all([api("GET", "/settings"), api("GET", "/settings/keys")]);
    current = values;
    inputs = {};
    for (const box of document.querySelectorAll("[data-group]")) box.replaceChildren();
    for (const name of Object.keys(values).sort()) {
      const input = inputFor(name, values[name]);
      inputs[name] = input;
      const box = document.querySelector(`[data-group="${groupOf(name)}"]`);
      box.append(
        el("label", { for: input.id }, name),
        input,
        keys[name] ? el("p", { class: "help" }, keys[name].description || "") : null,
      );
    }
    for (const box of document.querySelectorAll("[data-group]")) box.closest("section").hidden = !box.childNodes.length;
  } catch (error) {
    notify(error.message, "error");
  }
}

$("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  const changes = {};
  const errors = [];
  for (const name of Object.keys(inputs)) {
    try {
      const value = read(name);
      if (JSON.stringify(value) !== JSON.stringify(current[name])) changes[name] = value;
    } catch (error) {
      const detail = error instanceof SyntaxError ? t("The JSON is not valid ({detail}).", { detail: error.message }) : error.message;
      errors.push(el("li", {}, `${name}: ${detail}`));
    }
  }
  $("errors").replaceChildren(...errors);
  if (errors.length) return;
  if (!Object.keys(changes).length) {
    notify(t("Nothing changed."));
    return;
  }
  try {
    await api("PUT", "/settings", changes);
    notify(t("Saved."));
    load();
  } catch (error) {
    $("errors").replaceChildren(el("li", {}, error.message));
    if (error.field && inputs[error.field]) inputs[error.field].focus();
  }
});

ready(load());
