// Admin: one rule's form (match, schedule, replies as cards or JSON), the
// whole rule as JSON for power users, and a preview of the reply bubbles as
// the user sees them.

import { api, el, notify, ready, t } from "./api.js";
import { bubbles } from "./line.js";
import { httpErrors, replyEditor } from "./reply_cards.js";

const $ = (id) => document.getElementById(id);
const ruleId = document.getElementById("rule-editor").dataset.rule;
let loaded = null;

const list = (text) =>
  text.split(",").map((part) => part.trim()).filter(Boolean);

function fill(rule) {
  const match = rule.match || {};
  const schedule = rule.schedule || {};
  $("f-id").value = rule.id || "";
  $("f-id").disabled = Boolean(ruleId);
  $("f-name").value = rule.name || "";
  $("f-priority").value = rule.priority ?? 100;
  $("f-enabled").checked = rule.enabled !== false;
  $("f-handoff").checked = Boolean(rule.handoff);
  $("f-kind").value = match.kind || "contains";
  $("f-patterns").value = (match.patterns || []).join("\n");
  $("f-events").value = (match.events || []).join(", ");
  $("f-weekdays").value = (schedule.weekdays || []).join(", ");
  $("f-times").value = (schedule.times || []).join(", ");
  $("f-timezone").value = schedule.timezone || "Asia/Tokyo";
  $("f-tags").value = (rule.tags || []).join(", ");
  $("f-reply").value = JSON.stringify(rule.reply || [{ type: "text", text: "" }], null, 2);
  $("f-json").value = JSON.stringify(rule, null, 2);
  replies.load();
  preview();
}

/** The rule the form describes; throws with a message when the JSON is bad. */
function collect() {
  let reply;
  try {
    reply = JSON.parse($("f-reply").value);
  } catch (error) {
    throw new Error(t("Replies: the JSON is not valid ({detail}).", { detail: error.message }));
  }
  const kind = $("f-kind").value;
  const match = { kind };
  const patterns = $("f-patterns").value.split("\n").map((p) => p.trim()).filter(Boolean);
  if (kind !== "fallback" && kind !== "event") match.patterns = patterns;
  if (kind === "event") match.events = list($("f-events").value);
  if (loaded && loaded.match && kind === "postback" && "prefix" in loaded.match) {
    match.prefix = loaded.match.prefix;
  }
  const weekdays = list($("f-weekdays").value);
  const times = list($("f-times").value);
  const rule = {
    ...(loaded || {}),
    name: $("f-name").value,
    priority: Number($("f-priority").value),
    enabled: $("f-enabled").checked,
    handoff: $("f-handoff").checked,
    match,
    reply,
    tags: list($("f-tags").value),
    schedule:
      weekdays.length || times.length
        ? { timezone: $("f-timezone").value || "Asia/Tokyo", ...(weekdays.length ? { weekdays } : {}), ...(times.length ? { times } : {}) }
        : null,
  };
  if (!ruleId && $("f-id").value.trim()) rule.id = $("f-id").value.trim();
  return rule;
}

function preview() {
  const box = $("preview");
  try {
    const reply = JSON.parse($("f-reply").value || "[]");
    box.replaceChildren(...bubbles(Array.isArray(reply) ? reply : [reply]));
  } catch (error) {
    box.replaceChildren(el("p", { class: "error" }, t("The JSON is not valid yet.")));
  }
}

/** Errors in the list on top, and those about a reply beside its card too. */
function showErrors(errors) {
  $("errors").replaceChildren(...errors.map((e) => el("li", {}, e.field ? `${e.field}: ${e.message}` : e.message)));
  replies.showErrors(errors);
}

/** The rule the form describes, or null after showing why not: JSON that
 * does not parse, or an image address that is not https:// (LINE's rule; the
 * desk would refuse it too, less near the card). */
function checked() {
  let rule;
  try {
    rule = collect();
  } catch (error) {
    showErrors([{ message: error.message }]);
    return null;
  }
  const errors = httpErrors(rule.reply);
  if (errors.length) {
    showErrors(errors);
    return null;
  }
  return rule;
}

async function save(event) {
  event.preventDefault();
  const rule = checked();
  if (!rule) return;
  try {
    const saved = ruleId
      ? await api("PUT", `/rules/${encodeURIComponent(ruleId)}`, rule)
      : await api("POST", "/rules", rule);
    showErrors([]);
    notify(t("Saved."));
    if (!ruleId) {
      window.location.assign(`/admin/rules/${encodeURIComponent(saved.id)}`);
      return;
    }
    loaded = saved;
    fill(saved);
  } catch (error) {
    showErrors(error.errors.length ? error.errors : [{ field: error.field, message: error.message }]);
  }
}

const replies = replyEditor({
  root: $("reply-cards"),
  textarea: $("f-reply"),
  note: $("reply-note"),
  details: $("reply-json"),
  onChange: preview,
});
$("rule-form").addEventListener("submit", save);
$("from-json").addEventListener("click", () => {
  try {
    const rule = JSON.parse($("f-json").value);
    loaded = ruleId ? { ...rule, id: ruleId } : rule;
    fill(loaded);
    showErrors([]);
  } catch (error) {
    showErrors([{ message: t("The JSON is not valid ({detail}).", { detail: error.message }) }]);
  }
});
$("delete").addEventListener("click", async () => {
  if (!window.confirm(t("Delete this rule?"))) return;
  try {
    await api("DELETE", `/rules/${encodeURIComponent(ruleId)}`);
    window.location.assign("/admin/rules");
  } catch (error) {
    notify(error.message, "error");
  }
});

const REPLAY_FIGURES = [
  ["events", "Messages in the window"],
  ["answered", "Answered by this draft"],
  ["newly_answered", "Newly answered"],
  ["taken_from_rules", "Taken from other rules"],
  ["handoffs_avoided", "Hand-offs avoided"],
  ["handoffs_added", "Hand-offs added"],
  ["pushes_saved", "Pushes saved"],
  ["pushes_caused", "Pushes caused (estimate)"],
];

$("replay").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = $("replay-result");
  const rule = checked();
  if (!rule) return;
  for (const name of ["created_at", "updated_at", "updated_by", "revision"]) delete rule[name];
  try {
    const result = await api("POST", "/rules/replay", { rule, days: Number($("replay-days").value) });
    showErrors([]);
    box.replaceChildren(
      ...REPLAY_FIGURES.flatMap(([name, label]) =>
        name in result ? [el("dt", {}, t(label)), el("dd", { dataset: { figure: name } }, String(result[name]))] : [],
      ),
    );
  } catch (error) {
    box.replaceChildren();
    showErrors(error.errors.length ? error.errors : [{ field: error.field, message: error.message }]);
  }
});

/** A new rule's defaults come with the page, so nothing typed before this
script ran is overwritten (the reply cards are drawn from the JSON as it
stands); a stored rule is fetched, and Save stays off until it is in the form. */
async function start() {
  if (!ruleId) {
    replies.load();
    preview();
    return;
  }
  try {
    loaded = await api("GET", `/rules/${encodeURIComponent(ruleId)}`);
    $("delete").hidden = false;
    fill(loaded);
    $("save").disabled = false;
  } catch (error) {
    showErrors([{ message: error.message }]);
  }
}

// The JSON view shows the form's rule whenever it is opened.
$("f-json").closest("details").addEventListener("toggle", (event) => {
  if (!event.target.open) return;
  try {
    $("f-json").value = JSON.stringify(collect(), null, 2);
  } catch (error) {
    // the replies do not parse yet: the view keeps what it had
  }
});

ready(start());
