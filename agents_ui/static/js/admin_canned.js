// Admin: canned replies — list, add (text or LINE message objects), remove.

import { api, el, notify, ready, t } from "./api.js";
import { bubbles } from "./line.js";

const $ = (id) => document.getElementById(id);

async function load() {
  try {
    const { canned } = await api("GET", "/canned");
    $("canned").tBodies[0].replaceChildren(
      ...canned.map((item) =>
        el(
          "tr",
          { dataset: { code: item.code } },
          el("td", { class: "mono" }, "/" + item.code),
          el("td", {}, item.title || ""),
          el("td", {}, el("div", { class: "preview" }, bubbles(item.messages || [{ type: "text", text: item.text || "" }]))),
          el("td", {}, item.author || ""),
          el("td", {}, el("button", { type: "button", class: "danger", onclick: () => remove(item) }, t("Delete"))),
        ),
      ),
    );
  } catch (error) {
    notify(error.message, "error");
  }
}

async function remove(item) {
  if (!window.confirm(t("Delete /{code}?", { code: item.code }))) return;
  try {
    await api("DELETE", `/canned/${encodeURIComponent(item.code)}`);
    notify(t("Deleted."));
  } catch (error) {
    notify(error.message, "error");
  }
  load();
}

$("new-canned").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { code: $("c-code").value.trim() };
  if ($("c-title").value.trim()) body.title = $("c-title").value.trim();
  const raw = $("c-messages").value.trim();
  if (raw) {
    try {
      body.messages = JSON.parse(raw);
    } catch (error) {
      notify(t("The JSON is not valid ({detail}).", { detail: error.message }), "error");
      return;
    }
  } else {
    body.text = $("c-text").value;
  }
  try {
    await api("POST", "/canned", body);
    event.target.reset();
    notify(t("Created."));
    load();
  } catch (error) {
    notify(error.field ? `${error.field}: ${error.message}` : error.message, "error");
  }
});

ready(load());
