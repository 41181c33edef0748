// The inbox: tabs of conversations, the open conversation with its profile,
// and the composer. Lists and the open conversation follow the event stream;
// the page is never reloaded.

import { api, ago, clock, el, listen, notify, now, ready, setServerTime, t, when } from "./api.js";
import { STICKERS, bubble, bubbles, messageOf, quickReplies, userContent } from "./line.js";

const MAX_BUNDLE = 5;
const TYPING_EVERY = 10; // seconds between two loading-animation calls
const POLL_WHEN_OFFLINE = 15000; // ms between list fetches while the stream is down

const desk = document.getElementById("desk");
const ME = desk.dataset.me;
const IS_ADMIN = desk.dataset.role === "admin";
const TYPING = desk.dataset.typing === "on";
const COLLEAGUES = JSON.parse(document.getElementById("colleagues").textContent);
const $ = (id) => document.getElementById(id);
const TITLE = document.title;

const state = {
  tab: "queue",
  open: [], // every open conversation, in the API's order
  closed: null, // closed ones, fetched when needed
  current: null, // the open conversation (with messages)
  currentId: desk.dataset.conversation || null,
  bundle: [],
  canned: [],
  cannedPick: 0,
  ifExpired: "ask",
  typedAt: 0,
  sendKey: null,
  // The open conversation's drawn photos and players by content address, kept
  // across redraws so a playing video is not restarted by a new message.
  media: { id: null, nodes: new Map() },
};

// -- lists ----------------------------------------------------------------------

function inTab(tab) {
  if (tab === "queue") return state.open.filter((c) => c.status === "queued");
  if (tab === "mine") return state.open.filter((c) => c.status === "assigned" && c.assignee === ME);
  if (tab === "closed") return state.closed || [];
  return state.open;
}

async function loadLists() {
  try {
    const [open, closed] = await Promise.all([
      api("GET", "/conversations"),
      state.tab === "closed" || state.closed ? api("GET", "/conversations?status=closed&limit=100") : null,
    ]);
    state.open = open.conversations;
    if (closed) state.closed = closed.conversations;
    drawLists();
  } catch (error) {
    notify(error.message, "error");
  }
}

function nameOf(c) {
  return c.display_name || (c.user_id || c.chat_id || "").slice(0, 10) + "…";
}

/** True while the user waits on a person: queued, or their last word unanswered. */
function userWaits(c) {
  if (!c.waiting_since) return false;
  if (c.status === "queued") return true;
  return c.status === "assigned" && (c.last_message || {}).direction === "in";
}

function windowBadge(c) {
  return el("span", { class: "window", dataset: { freeUntil: c.free_until || "" } });
}

let lastListSignature = "";
let pressedRow = null;

// One handler for every row, on the list itself: when a live update redraws
// the list between an agent's press and release, the click lands on the list
// and the row pressed is still opened.
$("conversations").addEventListener("pointerdown", (e) => {
  const row = e.target.closest("li.row");
  pressedRow = row ? row.dataset.id : null;
});
$("conversations").addEventListener("click", (e) => {
  const row = e.target.closest("li.row");
  const id = row ? row.dataset.id : pressedRow;
  pressedRow = null;
  if (!id || e.ctrlKey || e.metaKey || e.shiftKey) return;
  e.preventDefault();
  openConversation(id);
});

function drawLists() {
  const queue = inTab("queue");
  const mine = inTab("mine");
  setBadge("queue", queue.length);
  document.title = queue.length ? `(${queue.length}) ${TITLE}` : TITLE;
  setBadge("mine", mine.reduce((sum, c) => sum + (c.unread || 0), 0));
  setBadge("all", state.open.reduce((sum, c) => sum + (c.unread || 0), 0));
  const rows = inTab(state.tab);
  // Redraw only when something shown changed: a row replaced between an
  // agent's press and release would swallow the click.
  const signature = JSON.stringify([state.tab, state.currentId, rows]);
  if (signature === lastListSignature) {
    tick();
    return;
  }
  lastListSignature = signature;
  const list = $("conversations");
  list.replaceChildren(
    ...rows.map((c) => {
      const last = c.last_message || {};
      return el(
        "li",
        {
          class: "row" + (c.id === state.currentId ? " current" : "") + (c.unread ? " unread" : ""),
          dataset: { id: c.id, status: c.status },
        },
        el(
          "a",
          { href: `/conversations/${encodeURIComponent(c.id)}` },
          el(
            "span",
            { class: "top" },
            el("span", { class: "person" }, nameOf(c)),
            c.unread ? el("span", { class: "badge unread-count" }, String(c.unread)) : null,
          ),
          el("span", { class: "last" }, last.text || (last.kind ? `[${last.kind}]` : "")),
          el(
            "span",
            { class: "meta" },
            el("span", { class: `status ${c.status}` }, t(c.status)),
            c.assignee ? el("span", { class: "assignee" }, c.assignee) : null,
            userWaits(c) ? el("span", { class: "waiting", dataset: { since: c.waiting_since } }) : null,
            c.status !== "closed" ? windowBadge(c) : null,
          ),
        ),
      );
    }),
  );
  $("inbox-empty").hidden = rows.length > 0;
  tick();
}

function setBadge(tab, count) {
  const badge = document.querySelector(`[data-count="${tab}"]`);
  badge.textContent = count ? String(count) : "";
  badge.hidden = !count;
}

function chooseTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  if (tab === "closed" && !state.closed) loadLists();
  drawLists();
}

// -- the open conversation ------------------------------------------------------------

async function openConversation(id) {
  state.currentId = id;
  history.replaceState(null, "", `/conversations/${encodeURIComponent(id)}`);
  if (!state.current || state.current.id !== id) {
    state.bundle = [];
    $("draft").value = "";
    state.sendKey = null;
  }
  // What could not be shown is asked for again: the panel's words for content
  // LINE is still preparing say to open the conversation again. What did show
  // is kept, so a playing video does not restart.
  for (const [url, node] of state.media.nodes) {
    if (node.classList.contains("missing")) state.media.nodes.delete(url);
  }
  await loadConversation();
  drawLists();
  $("draft").focus();
}

async function loadConversation() {
  const id = state.currentId;
  if (!id) return;
  let conversation;
  try {
    conversation = await api("GET", `/conversations/${encodeURIComponent(id)}`);
  } catch (error) {
    notify(error.message, "error");
    return;
  }
  if (state.currentId !== id) return;
  state.current = conversation;
  drawConversation();
  drawProfile();
}

function stateLine(c) {
  if (c.status === "assigned") {
    return c.assignee === ME ? t("Assigned to you") : t("Assigned to {name}", { name: c.assignee });
  }
  if (c.status === "queued") return t("Waiting in the queue");
  if (c.status === "closed") return t("Closed");
  return t("The bot is answering");
}

function drawConversation() {
  const c = state.current;
  $("no-conversation").hidden = true;
  $("thread").hidden = false;
  $("thread-name").textContent = nameOf(c);
  $("thread-state").textContent = stateLine(c);
  const mine = c.status === "assigned" && c.assignee === ME;
  $("claim").hidden = !(c.status === "queued" || c.status === "bot");
  $("close").hidden = c.status === "closed" || !(mine || IS_ADMIN);
  $("transfer").hidden = $("transfer-to").hidden = c.status === "closed" || !(mine || IS_ADMIN);
  const choices = [{ username: "queue", display_name: t("Back to the queue") }].concat(
    COLLEAGUES.filter((a) => a.username !== c.assignee),
  );
  // Redrawn on every live change (a message, a note, a tag): the colleague the
  // agent chose stays chosen, or Transfer would requeue instead.
  const transferTo = $("transfer-to");
  const chosen = transferTo.dataset.conversation === c.id ? transferTo.value : "";
  transferTo.replaceChildren(
    ...choices.map((a) => el("option", { value: a.username }, a.display_name + (a.username === "queue" ? "" : ` (${a.username})`))),
  );
  transferTo.dataset.conversation = c.id;
  if (choices.some((a) => a.username === chosen)) transferTo.value = chosen;
  $("composer").hidden = !(mine || (IS_ADMIN && c.status !== "closed"));

  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...c.messages.map(drawMessage));
  if (atBottom || !list.dataset.shown || list.dataset.shown !== c.id) list.scrollTop = list.scrollHeight;
  list.dataset.shown = c.id;

  const held = $("held");
  held.hidden = !(c.held && c.held.length);
  held.replaceChildren(
    el("p", { class: "muted" }, t("Held until the user writes:")),
    ...(c.held || []).map((item) => el("div", { class: "held-item" }, bubbles(item.messages))),
    IS_ADMIN
      ? el("button", { type: "button", id: "push-held", onclick: pushHeld }, t("Push the held answers now (paid)"))
      : null,
  );
  drawCost();
}

function drawMessage(row) {
  const inbound = row.direction === "in";
  const kinds = ["text", "sticker", "image", "video", "audio", "file", "location", "flex", "template", "imagemap"];
  let body;
  if (inbound && !kinds.includes(row.type)) {
    // follow, postback, and other events that are not messages
    body = el("div", { class: "event" }, `${t(row.type)}${row.text ? " · " + row.text : ""}`);
  } else {
    const message = messageOf(row);
    body = el("div", {}, userMediaBubble(message, inbound) || bubble(message), quickReplies(message));
  }
  const tags = [];
  if (!inbound) {
    if (row.origin) tags.push(row.actor ? `${t(row.origin)} · ${row.actor}` : t(row.origin));
    if (row.delivery === "reply") tags.push(t("free · reply"));
    else if (row.delivery === "push") tags.push(row.billable ? t("paid · push") : t("push"));
    else if (row.delivery) tags.push(t(row.delivery));
  }
  return el(
    "li",
    { class: `message ${inbound ? "in" : "out"} ${row.origin || ""}`, dataset: { id: row.id } },
    body,
    el("span", { class: "stamp" }, [when(row.time), ...tags].filter(Boolean).join(" · ")),
  );
}

/** A user's photo, video, audio or file, drawn once per open conversation. */
function userMediaBubble(message, inbound) {
  const source = inbound ? userContent(state.current.id, message) : null;
  if (!source) return null;
  if (state.media.id !== state.current.id) state.media = { id: state.current.id, nodes: new Map() };
  let node = state.media.nodes.get(source.url);
  if (!node) {
    node = bubble(message, source);
    state.media.nodes.set(source.url, node);
  }
  return node;
}

function drawProfile() {
  const c = state.current;
  $("profile").hidden = false;
  const picture = $("profile-picture");
  const url = c.picture_url || "";
  if (/^https?:\/\//i.test(url) || (url.startsWith("/") && !url.startsWith("//"))) {
    picture.src = url;
    picture.hidden = false;
  } else {
    picture.hidden = true;
  }
  $("profile-name").textContent = c.display_name || t("(no name)");
  $("profile-language").textContent = c.language || "—";
  $("profile-user").textContent = c.user_id || c.chat_id;
  $("tags").replaceChildren(
    ...(c.tags || []).map((tag) =>
      el(
        "li",
        { class: "tag" },
        tag,
        el("button", { type: "button", class: "link", title: t("Remove"), "aria-label": t("Remove"), onclick: () => changeTags([], [tag]) }, "×"),
      ),
    ),
  );
  $("notes").replaceChildren(
    ...(c.notes || []).map((note) =>
      el("li", {}, el("p", { class: "note-text" }, note.text), el("span", { class: "stamp" }, `${note.author} · ${when(note.time)}`)),
    ),
  );
  drawPast();
}

async function drawPast() {
  const c = state.current;
  if (!state.closed) {
    try {
      state.closed = (await api("GET", "/conversations?status=closed&limit=100")).conversations;
    } catch (error) {
      state.closed = [];
    }
  }
  const owner = c.user_id || c.chat_id;
  const past = state.closed.filter((p) => (p.user_id || p.chat_id) === owner && p.id !== c.id);
  $("past").replaceChildren(
    ...(past.length
      ? past.slice(0, 10).map((p) =>
          el("li", {}, el("a", { href: `/conversations/${encodeURIComponent(p.id)}`, onclick: (e) => { e.preventDefault(); openConversation(p.id); } }, when(p.closed_at || p.opened_at)), " ", (p.last_message && p.last_message.text) || ""),
        )
      : [el("li", { class: "muted" }, t("None"))]),
  );
}

async function act(path, body, done) {
  try {
    const result = await api("POST", `/conversations/${encodeURIComponent(state.currentId)}/${path}`, body);
    if (done) notify(done);
    await Promise.all([loadConversation(), loadLists()]);
    return result;
  } catch (error) {
    notify(error.message, "error");
    await loadConversation();
    return null;
  }
}

async function pushHeld() {
  if (!window.confirm(t("Push the held answers now? It is a paid push."))) return;
  await act("held/push", undefined, t("Sent as a paid push."));
}

async function changeTags(add, remove) {
  await act("tags", { add, remove });
}

// -- the composer ---------------------------------------------------------------------

function outgoing() {
  const text = $("draft").value;
  const messages = [...state.bundle];
  if (text.trim() && !text.startsWith("/")) messages.push({ type: "text", text });
  return messages;
}

function drawBundle() {
  $("bundle").replaceChildren(
    ...state.bundle.map((message, index) =>
      el(
        "li",
        {},
        bubble(message),
        el("button", { type: "button", class: "link", "aria-label": t("Remove"), title: t("Remove"), onclick: () => { state.bundle.splice(index, 1); drawBundle(); } }, "×"),
      ),
    ),
  );
  drawCost();
}

function freeLeft() {
  const c = state.current;
  return c && c.free_until ? c.free_until - now() : 0;
}

function drawCost() {
  const badge = $("cost");
  if (!state.current || $("composer").hidden) return;
  const count = Math.max(1, outgoing().length);
  const left = freeLeft();
  const choice = $("if-expired").value;
  let text;
  let kind;
  if (left > 0) {
    text = t("free · {left} left", { left: clock(left) });
    kind = "free";
  } else if (choice === "hold") {
    text = t("held until the user writes");
    kind = "held";
  } else {
    // A push carries the chat's held answers first, in the same bundled
    // requests (bot/delivery.py): they count into what it bills.
    const held = state.current.held_objects || 0;
    const pushes = Math.ceil((held + count) / MAX_BUNDLE);
    if (held) {
      text = pushes === 1
        ? t("paid push (1 message, held answers first)")
        : t("paid push ({n} messages, held answers first)", { n: pushes });
    } else {
      text = pushes === 1 ? t("paid push (1 message)") : t("paid push ({n} messages)", { n: pushes });
    }
    kind = "paid";
  }
  badge.textContent = text;
  badge.className = `cost ${kind}`;
  // Announced only when the kind changes (the free window shut, hold chosen):
  // the badge itself is rewritten every second by tick().
  if (badge.dataset.kind && badge.dataset.kind !== kind) $("cost-change").textContent = text;
  badge.dataset.kind = kind;
  $("add-bubble").disabled = state.bundle.length >= MAX_BUNDLE - 1 || !$("draft").value.trim();
}

function addToBundle(message) {
  if (outgoing().length >= MAX_BUNDLE && !(message.type === "text" && $("draft").value.trim())) {
    notify(t("At most 5 bubbles go in one answer."), "error");
    return false;
  }
  state.bundle.push(message);
  drawBundle();
  return true;
}

function newKey() {
  return (crypto.randomUUID && crypto.randomUUID()) || String(Math.random()).slice(2) + Date.now();
}

async function send(ifExpired) {
  const messages = outgoing();
  if (!messages.length) return;
  if (messages.length > MAX_BUNDLE) {
    notify(t("At most 5 bubbles go in one answer."), "error");
    return;
  }
  const choice = ifExpired || ($("if-expired").value === "hold" ? "hold" : "ask");
  // One key per answer as written: a retry of the same answer reuses it (the
  // desk sends it once), an answer changed since gets a key of its own.
  const written = JSON.stringify(messages);
  if (!state.sendKey || state.sendKey.written !== written) {
    state.sendKey = { key: newKey(), written };
  }
  $("send").disabled = true;
  let result;
  try {
    result = await api(
      "POST",
      `/conversations/${encodeURIComponent(state.currentId)}/messages`,
      { messages, if_expired: choice },
      { "Idempotency-Key": `${state.sendKey.key}:${choice}` },
    );
  } catch (error) {
    notify(error.field ? `${error.field}: ${error.message}` : error.message, "error");
    return;
  } finally {
    $("send").disabled = false;
  }
  if (result.delivery === "needs_confirmation") {
    askBeforePush(result);
    return;
  }
  state.bundle = [];
  state.sendKey = null;
  $("draft").value = "";
  drawBundle();
  const said = {
    reply: t("Sent free through the user's reply token."),
    push: t("Sent as a paid push."),
    held: t("Held: it goes out free when the user next writes."),
  };
  notify(said[result.delivery] || result.delivery);
  await loadConversation();
}

function askBeforePush(result) {
  const dialog = $("confirm-push");
  $("confirm-text").textContent = t(
    "The free window has shut. Sending now is a paid push ({n} message, {objects} bubbles). Send it, or hold it until the user writes?",
    { n: result.billable, objects: result.objects },
  );
  dialog.returnValue = "";
  dialog.onclose = () => {
    if (dialog.returnValue === "push" || dialog.returnValue === "hold") send(dialog.returnValue);
  };
  dialog.showModal();
  $("confirm-push-button").focus();
}

// canned replies on "/"

async function loadCanned() {
  try {
    state.canned = (await api("GET", "/canned")).canned;
  } catch (error) {
    state.canned = [];
  }
}

function cannedMatches() {
  const text = $("draft").value;
  if (!text.startsWith("/")) return [];
  const wanted = text.slice(1).toLowerCase();
  return state.canned.filter(
    (c) => c.code.startsWith(wanted) || (c.title || "").toLowerCase().includes(wanted),
  ).slice(0, 8);
}

function drawCanned() {
  const menu = $("canned-menu");
  const found = cannedMatches();
  menu.hidden = !found.length;
  state.cannedPick = Math.min(state.cannedPick, Math.max(0, found.length - 1));
  menu.replaceChildren(
    ...found.map((c, index) =>
      el(
        "button",
        {
          type: "button",
          role: "option",
          class: "canned-item",
          "aria-selected": String(index === state.cannedPick),
          onclick: () => useCanned(c),
        },
        el("strong", {}, "/" + c.code),
        " ",
        c.title || "",
        el("span", { class: "muted" }, " " + (c.text || (c.messages || []).map((m) => m.text || m.altText || m.type).join(" / "))),
      ),
    ),
  );
}

function useCanned(item) {
  $("draft").value = "";
  const messages = item.messages || (item.text ? [{ type: "text", text: item.text }] : []);
  if (messages.length === 1 && messages[0].type === "text") {
    $("draft").value = messages[0].text;
  } else {
    for (const message of messages) if (!addToBundle(message)) break;
  }
  drawCanned();
  drawCost();
  $("draft").focus();
}

function typing() {
  if (!TYPING || !state.currentId || now() - state.typedAt < TYPING_EVERY) return;
  state.typedAt = now();
  api("POST", `/conversations/${encodeURIComponent(state.currentId)}/typing`, {}).catch(() => {});
}

// -- the clock and the keyboard ---------------------------------------------------------

function tick() {
  const at = now();
  for (const node of document.querySelectorAll("[data-free-until]")) {
    const until = parseFloat(node.dataset.freeUntil);
    const left = until ? until - at : 0;
    node.textContent = left > 0 ? t("free · {left}", { left: clock(left) }) : t("window shut");
    node.classList.toggle("open", left > 0);
  }
  for (const node of document.querySelectorAll("[data-since]")) {
    node.textContent = t("waiting {time}", { time: ago(at - parseFloat(node.dataset.since)) });
  }
  drawCost();
}

function nextConversation() {
  const rows = inTab(state.tab);
  if (!rows.length) return;
  const index = rows.findIndex((c) => c.id === state.currentId);
  openConversation(rows[(index + 1) % rows.length].id);
}

document.addEventListener("keydown", (event) => {
  if (event.altKey && !event.ctrlKey && (event.code === "KeyN" || event.key === "n")) {
    event.preventDefault();
    nextConversation();
  } else if (event.altKey && !event.ctrlKey && (event.code === "KeyC" || event.key === "c")) {
    event.preventDefault();
    if (state.current && !$("claim").hidden) act("claim", undefined, t("Claimed."));
  }
});

$("draft").addEventListener("keydown", (event) => {
  const menu = !$("canned-menu").hidden;
  if (menu && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
    event.preventDefault();
    state.cannedPick += event.key === "ArrowDown" ? 1 : -1;
    state.cannedPick = Math.max(0, state.cannedPick);
    drawCanned();
  } else if (menu && (event.key === "Enter" || event.key === "Tab")) {
    event.preventDefault();
    const found = cannedMatches();
    if (found[state.cannedPick]) useCanned(found[state.cannedPick]);
  } else if (event.key === "Escape" && menu) {
    $("canned-menu").hidden = true;
  } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    send();
  }
});
$("draft").addEventListener("input", () => {
  state.cannedPick = 0;
  drawCanned();
  drawCost();
  typing();
});
$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
$("add-bubble").addEventListener("click", () => {
  const text = $("draft").value;
  if (!text.trim()) return;
  if (addToBundle({ type: "text", text })) $("draft").value = "";
  drawCost();
  $("draft").focus();
});
$("if-expired").addEventListener("change", drawCost);
$("sticker-button").addEventListener("click", () => ($("stickers").hidden = !$("stickers").hidden));
$("stickers").replaceChildren(
  ...STICKERS.map((s) =>
    el("button", { type: "button", title: t(s.name), "aria-label": t(s.name), onclick: () => { addToBundle({ type: "sticker", packageId: s.packageId, stickerId: s.stickerId }); $("stickers").hidden = true; } }, s.emoji),
  ),
);
function addImage(originalContentUrl, previewImageUrl) {
  return addToBundle({ type: "image", originalContentUrl, previewImageUrl });
}

$("image-button").addEventListener("click", () => {
  const url = (window.prompt(t("Address of the image (https://…, JPEG or PNG)")) || "").trim();
  if (!url) return;
  if (!/^https:\/\/\S+$/i.test(url)) {
    notify(t("LINE needs an https:// address for images."), "error");
    return;
  }
  addImage(url, url);
});

// An upload: the desk keeps the photo at its public address (PUBLIC_URL) and
// answers with both of LINE's addresses, which go into the bundle like an
// address typed in. The button stays off (the page says why) without PUBLIC_URL.
const UPLOAD_MAX = 10 * 1024 * 1024; // LINE's limit for an image

async function upload(file) {
  const button = $("upload-button");
  const label = button.textContent;
  if (file.size > UPLOAD_MAX) {
    notify(t("The image is larger than LINE takes (10 MB)."), "error");
    return;
  }
  const form = new FormData();
  form.append("file", file);
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = t("Uploading…");
  try {
    const sent = await api("POST", "/uploads", form);
    if (addImage(sent.originalContentUrl, sent.previewImageUrl)) notify(t("Image added."));
  } catch (error) {
    notify(error.message, "error");
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

if ($("composer").dataset.upload === "on") {
  $("upload-button").addEventListener("click", () => $("upload-file").click());
  $("upload-file").addEventListener("change", () => {
    const [file] = $("upload-file").files;
    $("upload-file").value = ""; // the same file may be chosen again
    if (file) upload(file);
  });
}
$("claim").addEventListener("click", () => act("claim", undefined, t("Claimed.")));
$("close").addEventListener("click", () => act("close", undefined, t("Closed.")));
$("transfer").addEventListener("click", () =>
  act("transfer", { to: $("transfer-to").value }, t("Transferred.")),
);
$("tag-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const tag = $("tag-input").value.trim();
  if (!tag) return;
  $("tag-input").value = "";
  changeTags([tag], []);
});
$("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("note-input").value;
  if (!text.trim()) return;
  const added = await act("notes", { text });
  if (added) $("note-input").value = "";
});
for (const button of document.querySelectorAll("[data-tab]")) {
  button.addEventListener("click", () => chooseTab(button.dataset.tab));
}

// -- live updates -----------------------------------------------------------------------

let listTimer = null;
let threadTimer = null;
function soon(which) {
  if (which === "lists") {
    clearTimeout(listTimer);
    listTimer = setTimeout(loadLists, 150);
  } else {
    clearTimeout(threadTimer);
    threadTimer = setTimeout(loadConversation, 150);
  }
}

listen(
  (kind, data) => {
    if (kind.startsWith("conversation.")) {
      soon("lists");
      const id = data.id || data.conversation_id;
      if (id && id === state.currentId) soon("thread");
    } else if (kind === "user.tags" && state.current && data.user_id === state.current.user_id) {
      soon("thread");
    } else if (kind === "quota.warning") {
      notify(t("The month's budget is running low."), "error");
    }
  },
  () => {
    loadLists();
    if (state.currentId) loadConversation();
  },
);

async function start() {
  try {
    const settings = await api("GET", "/settings");
    if (settings.handoff_if_expired) $("if-expired").value = settings.handoff_if_expired;
  } catch (error) {
    // the default choice stays
  }
  loadCanned();
  await loadLists();
  if (state.currentId) openConversation(state.currentId);
  setInterval(tick, 1000);
  // While the event stream is down, the lists are fetched now and then instead.
  setInterval(() => {
    if (document.body.dataset.live === "off") {
      loadLists();
      if (state.currentId) loadConversation();
    }
  }, POLL_WHEN_OFFLINE);
}

setServerTime(Number(document.body.dataset.now) || NaN);
ready(start());
