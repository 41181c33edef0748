// Admin: accounts — list, create, change role, disable and enable again.

import { api, el, notify, ready, t } from "./api.js";

const $ = (id) => document.getElementById(id);

async function change(account, body, done) {
  try {
    await api("PATCH", `/agents/${encodeURIComponent(account.username)}`, body);
    notify(done);
  } catch (error) {
    notify(error.message, "error");
  }
  load();
}

function row(account) {
  return el(
    "tr",
    { dataset: { username: account.username } },
    el("td", { class: "mono" }, account.username),
    el("td", {}, account.display_name),
    el(
      "td",
      {},
      el(
        "select",
        { "aria-label": t("Role"), onchange: (e) => change(account, { role: e.target.value }, t("Saved.")) },
        ["agent", "admin"].map((role) => el("option", { value: role, selected: account.role === role }, role === "admin" ? t("Admin") : t("Agent"))),
      ),
    ),
    el("td", {}, account.language === "en" ? "English" : "日本語"),
    el("td", {}, account.active ? t("yes") : el("span", { class: "pill off" }, t("disabled"))),
    el(
      "td",
      { class: "actions" },
      el("button", { type: "button", onclick: () => newPassword(account) }, t("Set password")),
      account.active
        ? el("button", { type: "button", class: "danger", onclick: () => disable(account) }, t("Disable"))
        : el("button", { type: "button", onclick: () => change(account, { active: true }, t("Enabled again.")) }, t("Enable")),
    ),
  );
}

async function newPassword(account) {
  const password = window.prompt(t("New password for {name} (at least 10 characters)", { name: account.username }));
  if (!password) return;
  await change(account, { password }, t("Saved."));
}

async function disable(account) {
  if (!window.confirm(t("Disable {name}? Their sessions end at once.", { name: account.username }))) return;
  try {
    await api("DELETE", `/agents/${encodeURIComponent(account.username)}`);
    notify(t("Disabled."));
  } catch (error) {
    notify(error.message, "error");
  }
  load();
}

async function load() {
  try {
    const { agents } = await api("GET", "/agents");
    $("agents").tBodies[0].replaceChildren(...agents.map(row));
  } catch (error) {
    notify(error.message, "error");
  }
}

$("new-agent").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", "/agents", {
      username: $("a-username").value.trim(),
      display_name: $("a-name").value,
      password: $("a-password").value,
      role: $("a-role").value,
      language: $("a-language").value,
    });
    event.target.reset();
    notify(t("Created."));
    load();
  } catch (error) {
    notify(error.field ? `${error.field}: ${error.message}` : error.message, "error");
  }
});

ready(load());
