// Admin: the reply rules with search, an enable toggle and priority edited in
// place, and the live tester ("type a message → which rule, what answer").

import { api, el, notify, ready, t } from "./api.js";
import { bubbles } from "./line.js";

const $ = (id) => document.getElementById(id);
let rules = [];

function summary(rule) {
  const match = rule.match || {};
  const patterns = (match.patterns || []).slice(0, 4);
  return el(
    "span",
    {},
    el("span", { class: "pill" }, t(match.kind || "?")),
    patterns.map((p) => el("span", { class: "pill" }, p)),
    (match.events || []).map((e) => el("span", { class: "pill" }, e)),
    rule.schedule ? el("span", { class: "pill warn" }, t("scheduled")) : null,
  );
}

function firstReply(rule) {
  const first = (rule.reply || [])[0] || {};
  return first.text || first.altText || (first.type ? `[${first.type}]` : "");
}

function haystack(rule) {
  return JSON.stringify([rule.id, rule.name, rule.match, rule.reply, rule.tags]).toLowerCase();
}

function draw() {
  const wanted = $("rule-search").value.trim().toLowerCase();
  const shown = rules.filter((rule) => !wanted || haystack(rule).includes(wanted));
  $("rules").tBodies[0].replaceChildren(
    ...shown.map((rule) =>
      el(
        "tr",
        { dataset: { id: rule.id } },
        el(
          "td",
          {},
          el("input", {
            type: "checkbox",
            class: "enabled",
            "aria-label": t("Enabled"),
            checked: rule.enabled !== false,
            onchange: (event) => save(rule, { enabled: event.target.checked }),
          }),
        ),
        el(
          "td",
          { class: "num" },
          el("input", {
            type: "number",
            min: "0",
            class: "priority",
            "aria-label": t("Priority"),
            value: rule.priority,
            onchange: (event) => save(rule, { priority: Number(event.target.value) }),
          }),
        ),
        el(
          "td",
          {},
          el("a", { href: `/admin/rules/${encodeURIComponent(rule.id)}` }, rule.name || rule.id),
          el("div", { class: "mono muted" }, rule.id),
          rule.handoff ? el("span", { class: "pill warn" }, t("hand-off")) : null,
        ),
        el("td", {}, summary(rule)),
        el("td", { class: "muted" }, firstReply(rule).slice(0, 80)),
      ),
    ),
  );
  $("rules-empty").hidden = shown.length > 0;
}

async function load() {
  try {
    rules = (await api("GET", "/rules")).rules;
    draw();
  } catch (error) {
    notify(error.message, "error");
  }
}

async function save(rule, change) {
  try {
    const updated = await api("PUT", `/rules/${encodeURIComponent(rule.id)}`, { ...rule, ...change });
    Object.assign(rule, updated);
    notify(t("Saved."));
  } catch (error) {
    notify(error.message, "error");
  }
  await load();
}

$("rule-search").addEventListener("input", draw);
$("tester").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("tester-text").value;
  const box = $("tester-result");
  if (!text) return;
  try {
    const result = await api("POST", "/rules/test", { text });
    box.replaceChildren(
      result.rule
        ? el(
            "p",
            { class: "tester-rule" },
            t("Rule"),
            ": ",
            el("a", { href: `/admin/rules/${encodeURIComponent(result.rule)}` }, result.name || result.rule),
            " ",
            el("span", { class: "mono muted" }, result.rule),
            result.handoff ? el("span", { class: "pill warn" }, t("hand-off")) : null,
          )
        : el("p", { class: "tester-rule" }, t("No rule answers this.")),
      el("div", { class: "preview" }, bubbles(result.messages)),
    );
  } catch (error) {
    box.replaceChildren(el("p", { class: "error" }, error.message));
  }
});

ready(load());
