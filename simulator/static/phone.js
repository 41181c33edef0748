// The phone page: act as simulated LINE users and see the desk's answers.
// Plain DOM code. Every text a user, an agent or the bot wrote goes through
// textContent, and URLs are used only when they are http(s), so nothing in a
// message can run as markup or script.
"use strict";

const API = "/simulator/api";
const POLL_SECONDS = 25;
const MAX_UPLOAD = 900 * 1024;
const MAX_SIDE = 1600;

// Stickers the phone can send, drawn as emoji: `STICKERS` comes from
// /simulator/stickers.js (bot/stickers.py, the table the panel uses too).
// The avatars a new user can pick (the server draws them; see phone.py).
const AVATAR_EMOJI = {
  cat: "🐱", dog: "🐶", bear: "🐻", rabbit: "🐰", panda: "🐼", frog: "🐸",
};
const STICKER_BY_ID = new Map(STICKERS.map((s) => [`${s.packageId}/${s.stickerId}`, s]));

const state = {
  users: [],
  current: null,
  seq: 0,
  poll: null,
  bot: { displayName: "Bot" },
  latestBot: null,
};

const $ = (id) => document.getElementById(id);

// -- small helpers -----------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function safeUrl(value) {
  // Only absolute http(s) URLs: never javascript:, data: or this page itself.
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch (err) {
    return null;
  }
}

function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

function showError(where, message) {
  const node = $(where);
  node.textContent = message || "";
  if (message) setTimeout(() => { if (node.textContent === message) node.textContent = ""; }, 6000);
}

async function call(method, path, body, options = {}) {
  const init = { method, headers: {}, signal: options.signal };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, init);
  let data = null;
  try { data = await response.json(); } catch (err) { data = null; }
  if (!response.ok) {
    const message = (data && data.message) || `HTTP ${response.status}`;
    throw new Error(message);
  }
  return data;
}

// -- users and the bill --------------------------------------------------------

function avatarFor(user) {
  const img = el("img", "avatar");
  img.alt = "";
  img.src = safeUrl(user.pictureUrl) || `/simulator/avatars/${encodeURIComponent(user.userId)}.svg`;
  return img;
}

function renderUsers() {
  const list = $("users");
  list.replaceChildren();
  for (const user of state.users) {
    const item = el("li");
    const button = el("button");
    button.type = "button";
    button.dataset.userId = user.userId;
    if (state.current === user.userId) button.setAttribute("aria-current", "true");
    const who = el("span", "who", user.displayName);
    const status = el("span", "state", user.following ? "friend" : "blocked");
    button.append(avatarFor(user), who, status);
    button.addEventListener("click", () => selectUser(user.userId));
    item.append(button);
    list.append(item);
  }
}

function renderStats(stats) {
  if (!stats) return;
  const limit = stats.limit;
  $("bill-count").textContent = limit === null ? `${stats.totalUsage}` : `${stats.totalUsage} / ${limit}`;
  $("cost-pill").textContent = limit === null
    ? `billed ${stats.totalUsage}`
    : `billed ${stats.totalUsage}/${limit}`;
  const meter = $("bill-meter");
  const share = limit ? Math.min(1, stats.totalUsage / limit) : 0;
  meter.style.width = `${Math.round(share * 100)}%`;
  meter.classList.toggle("full", limit !== null && stats.totalUsage >= limit);
  $("bill-detail").textContent =
    `${stats.month}: ${stats.replies} free replies, ${stats.pushes} pushes, ` +
    `${stats.multicasts} multicasts, ${stats.refused} refused calls`;
  const plan = $("plan");
  if (document.activeElement !== plan && [...plan.options].some((o) => o.value === stats.plan)) {
    plan.value = stats.plan;
  }
}

async function refreshUsers() {
  const data = await call("GET", "/users");
  state.users = data.users;
  renderUsers();
}

// -- the chat --------------------------------------------------------------------

function selectUser(userId) {
  if (state.poll) state.poll.abort();
  state.current = userId;
  state.seq = 0;
  state.latestBot = null;
  $("chat").replaceChildren();
  renderUsers();
  poll();
}

function systemLine(text) {
  return el("div", "system", text);
}

function row(side, time, extra) {
  const line = el("div", `row ${side}`);
  const stack = el("div", "stack");
  const meta = el("div", "meta");
  if (extra) meta.append(extra);
  meta.append(el("span", "time", clock(time)));
  if (side === "bot") {
    const avatar = el("div", "avatar", (state.bot.displayName || "B").slice(0, 1));
    const column = el("div", "col");
    column.append(el("span", "name", state.bot.displayName));
    column.append(stack);
    line.append(avatar, column, meta);
  } else {
    line.append(meta, stack);
  }
  return { line, stack };
}

function renderUserEntry(entry) {
  if (entry.kind === "follow") return systemLine(`You added ${state.bot.displayName} as a friend`);
  if (entry.kind === "unfollow") return systemLine(`You blocked ${state.bot.displayName}`);
  const read = entry.read ? el("span", "read", "Read") : null;
  const { line, stack } = row("user", entry.time, read);
  if (entry.kind === "postback") {
    if (!entry.displayText) return systemLine(`Tapped a button (postback)`);
    stack.append(el("div", "bubble", entry.displayText));
    return line;
  }
  stack.append(renderMessage(entry.message, { own: true }));
  return line;
}

function renderBotEntry(entry) {
  const free = entry.method === "reply";
  const cost = el("span", `cost ${free ? "free" : "billed"}`, free ? "free · reply" : `billed · ${entry.method}`);
  cost.title = free
    ? "Sent with a reply token: costs nothing"
    : `Counted against the monthly plan (${entry.billable} message)`;
  const { line, stack } = row("bot", entry.time, cost);
  line.dataset.method = entry.method;
  for (const message of entry.messages) stack.append(renderMessage(message, {}));
  return line;
}

function renderMessage(message, { own }) {
  switch (message.type) {
    case "text":
    case "textV2":
      return el("div", "bubble", message.text);
    case "sticker":
      return renderSticker(message);
    case "image":
      return renderImage(message, own);
    case "video":
    case "audio":
      return el("div", "bubble", `▶ ${message.type}`);
    case "location":
      return renderLocation(message);
    case "template":
      return renderTemplate(message);
    case "flex":
      return renderFlex(message);
    case "imagemap":
      return el("div", "bubble", `[imagemap] ${message.altText || ""}`);
    default:
      return el("div", "bubble", `[${message.type} message]`);
  }
}

function renderSticker(message) {
  const known = STICKER_BY_ID.get(`${message.packageId}/${message.stickerId}`);
  const box = el("div", "sticker", known ? known.emoji : "🧸");
  box.title = `sticker ${message.packageId}/${message.stickerId}`;
  if (!known) box.append(el("small", "", `sticker ${message.stickerId}`));
  return box;
}

function renderImage(message, own) {
  const img = el("img", "photo");
  img.alt = "photo";
  const url = own
    ? `${API}/content/${encodeURIComponent(message.id)}`
    : safeUrl(message.previewContentUrl) || safeUrl(message.originalContentUrl);
  if (url) img.src = url;
  return img;
}

function renderLocation(message) {
  const card = el("div", "card");
  const body = el("div", "card-body");
  body.append(el("div", "card-title", `📍 ${message.title || "Location"}`));
  body.append(el("div", "", message.address || `${message.latitude}, ${message.longitude}`));
  card.append(body);
  return card;
}

// -- templates and flex ------------------------------------------------------------

function actionButton(action, className) {
  const button = el("button", className || "", action.label || action.type);
  button.type = "button";
  button.addEventListener("click", () => runAction(action));
  return button;
}

function templateCard(column, actions, sideBySide) {
  const card = el("div", "card");
  const image = safeUrl(column.thumbnailImageUrl || column.imageUrl);
  if (image) {
    const img = el("img", "card-image");
    img.alt = "";
    img.src = image;
    card.append(img);
  }
  const body = el("div", "card-body");
  if (column.title) body.append(el("div", "card-title", column.title));
  if (column.text) body.append(el("div", "", column.text));
  if (column.title || column.text) card.append(body);
  const row = el("div", sideBySide ? "actions side-by-side" : "actions");
  for (const action of actions || []) row.append(actionButton(action));
  card.append(row);
  return card;
}

function renderTemplate(message) {
  const t = message.template || {};
  if (t.type === "buttons") return templateCard(t, t.actions);
  if (t.type === "confirm") return templateCard({ text: t.text }, t.actions, true);
  if (t.type === "carousel" || t.type === "image_carousel") {
    const strip = el("div", "carousel");
    for (const column of t.columns || []) {
      strip.append(templateCard(column, column.actions || (column.action ? [column.action] : [])));
    }
    return strip;
  }
  return el("div", "bubble", message.altText || "[template]");
}

function renderFlex(message) {
  const contents = message.contents || {};
  if (contents.type === "carousel") {
    const strip = el("div", "carousel");
    for (const bubble of contents.contents || []) strip.append(flexBubble(bubble));
    return strip;
  }
  if (contents.type === "bubble") return flexBubble(contents);
  return el("div", "bubble", message.altText || "[flex]");
}

function flexBubble(bubble) {
  const card = el("div", "card");
  for (const part of ["header", "hero", "body", "footer"]) {
    const block = bubble[part];
    if (!block) continue;
    const section = el("div", `flex-section ${part}`);
    section.append(flexComponent(block));
    card.append(section);
  }
  return card;
}

const COLOUR = /^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$/;
const SIZES = { xxs: 10, xs: 11, sm: 12, md: 14, lg: 16, xl: 18, xxl: 20, "3xl": 24, "4xl": 28, "5xl": 32 };

function flexComponent(part) {
  switch (part.type) {
    case "box": {
      const box = el("div", `flex-box ${part.layout || "vertical"}`);
      if (COLOUR.test(part.backgroundColor || "")) box.style.backgroundColor = part.backgroundColor;
      for (const child of part.contents || []) box.append(flexComponent(child));
      return box;
    }
    case "text": {
      const text = part.contents && part.contents.length
        ? part.contents.map((span) => span.text || "").join("")
        : part.text;
      const node = el("div", `flex-text${part.weight === "bold" ? " bold" : ""}`, text);
      if (COLOUR.test(part.color || "")) node.style.color = part.color;
      if (SIZES[part.size]) node.style.fontSize = `${SIZES[part.size]}px`;
      if (part.flex !== undefined) node.style.flex = String(Number(part.flex) || 0);
      return node;
    }
    case "image": {
      const img = el("img", "card-image");
      img.alt = "";
      const url = safeUrl(part.url);
      if (url) img.src = url;
      return img;
    }
    case "button":
      return actionButton(part.action || {}, `flex-button${part.style === "primary" ? " primary" : ""}`);
    case "separator":
      return el("hr", "flex-sep");
    case "icon":
      return el("span", "", "•");
    default:
      return el("span");
  }
}

// -- actions (quick replies, template and flex buttons) -----------------------------

async function runAction(action) {
  const user = state.current;
  if (!user) return;
  try {
    switch (action.type) {
      case "message":
        await call("POST", `/users/${user}/text`, { text: action.text || action.label });
        break;
      case "postback":
        await call("POST", `/users/${user}/postback`, {
          data: action.data,
          displayText: action.displayText || action.text || undefined,
        });
        break;
      case "datetimepicker":
        await pickDate(action);
        break;
      case "uri": {
        const url = safeUrl(action.uri);
        if (url) window.open(url, "_blank", "noopener,noreferrer");
        else showError("phone-error", "This link cannot be opened here.");
        break;
      }
      case "camera":
      case "cameraRoll":
        $("file").click();
        break;
      case "location":
        await call("POST", `/users/${user}/location`, {
          title: "Tokyo Station", address: "1 Chome Marunouchi, Chiyoda City, Tokyo",
          latitude: 35.681236, longitude: 139.767125,
        });
        break;
      case "clipboard":
        await navigator.clipboard.writeText(action.clipboardText || "");
        break;
      default:
        showError("phone-error", `The simulator cannot do a ${action.type} action.`);
    }
    $("quick").hidden = true;
  } catch (err) {
    showError("phone-error", err.message);
  }
}

function pickDate(action) {
  const mode = action.mode || "datetime";
  const dialog = $("picker");
  const input = $("picker-input");
  input.type = mode === "datetime" ? "datetime-local" : mode;
  input.value = action.initial || "";
  if (action.min) input.min = action.min;
  if (action.max) input.max = action.max;
  $("picker-label").textContent = action.label || "Pick";
  return new Promise((resolve, reject) => {
    dialog.addEventListener("close", async function done() {
      dialog.removeEventListener("close", done);
      if (dialog.returnValue !== "ok" || !input.value) return resolve();
      try {
        await call("POST", `/users/${state.current}/postback`, {
          data: action.data,
          params: { [mode]: input.value },
        });
        resolve();
      } catch (err) {
        reject(err);
      }
    });
    dialog.showModal();
  });
}

function renderQuickReplies() {
  const bar = $("quick");
  bar.replaceChildren();
  const last = state.latestBot;
  const items = last && last.quickReply && last.quickReply.items;
  if (!items || !items.length) {
    bar.hidden = true;
    return;
  }
  for (const item of items) bar.append(actionButton(item.action || {}));
  bar.hidden = false;
}

// -- live updates ----------------------------------------------------------------

function applyChat(data) {
  const chat = $("chat");
  for (const entry of data.entries) {
    const node = entry.from === "bot" ? renderBotEntry(entry) : renderUserEntry(entry);
    node.dataset.seq = entry.seq;
    chat.append(node);
    if (entry.from === "bot") {
      state.latestBot = entry.messages[entry.messages.length - 1];
    } else if (entry.kind === "message" || entry.kind === "postback") {
      state.latestBot = null;
    }
  }
  const typing = chat.querySelector(".typing-row");
  if (typing) typing.remove();
  if (data.loading) {
    const { line, stack } = row("bot", Date.now());
    line.classList.add("typing-row");
    const bubble = el("div", "bubble typing");
    bubble.append(el("span"), el("span"), el("span"));
    stack.append(bubble);
    chat.append(line);
  }
  if (data.entries.length || data.loading) chat.scrollTop = chat.scrollHeight;
  renderQuickReplies();
  renderStats(data.stats);
  const user = data.user;
  $("chat-title").textContent = `${state.bot.displayName} · ${user.displayName}`;
  $("compose").hidden = !user.following;
  $("follow-bar").hidden = user.following;
  $("block").hidden = !user.following;
  if (!user.following) $("stickers").hidden = true;
  const empty = $("empty");
  if (empty) empty.remove();
}

function markRead(readUpTo) {
  // A read mark changes entries already on screen (the poll only brings new
  // ones), so the server says up to which entry the user's messages are read.
  for (const node of $("chat").querySelectorAll(".row.user")) {
    if (Number(node.dataset.seq) <= readUpTo && !node.querySelector(".read")) {
      node.querySelector(".meta").prepend(el("span", "read", "Read"));
    }
  }
}

async function poll() {
  const user = state.current;
  const controller = new AbortController();
  state.poll = controller;
  let wait = 0;
  while (state.current === user && !controller.signal.aborted) {
    try {
      const data = await call(
        "GET",
        `/users/${user}/chat?after=${state.seq}&wait=${wait}`,
        undefined,
        { signal: controller.signal },
      );
      if (state.current !== user) return;
      const changed = data.seq !== state.seq;
      // Move on first: an entry that fails to draw must not come back forever.
      state.seq = data.seq;
      applyChat(data);
      markRead(data.readUpTo || 0);
      if (changed) refreshUsers().catch(() => {});
      wait = data.loading ? 5 : POLL_SECONDS;
    } catch (err) {
      if (controller.signal.aborted) return;
      showError("phone-error", `Lost the simulator: ${err.message}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

// -- sending -----------------------------------------------------------------------

async function sendText(event) {
  event.preventDefault();
  const input = $("text");
  const text = input.value;
  if (!text.trim() || !state.current) return;
  input.value = "";
  try {
    await call("POST", `/users/${state.current}/text`, { text });
  } catch (err) {
    input.value = text;
    showError("phone-error", err.message);
  }
}

async function sendSticker(sticker) {
  $("stickers").hidden = true;
  try {
    await call("POST", `/users/${state.current}/sticker`, {
      packageId: sticker.packageId, stickerId: sticker.stickerId,
    });
  } catch (err) {
    showError("phone-error", err.message);
  }
}

function shrink(file) {
  // Photos larger than the desk takes are scaled down, as LINE's app does.
  if (file.size <= MAX_UPLOAD && /^image\/(jpeg|png|gif)$/.test(file.type)) {
    return Promise.resolve(file);
  }
  return new Promise((resolve, reject) => {
    const img = new Image();
    const url = URL.createObjectURL(file);
    img.onload = () => {
      const scale = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(img.width * scale);
      canvas.height = Math.round(img.height * scale);
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("cannot read the image"))), "image/jpeg", 0.85);
    };
    img.onerror = () => reject(new Error("this file is not an image"));
    img.src = url;
  });
}

async function sendPhoto() {
  const file = $("file").files[0];
  $("file").value = "";
  if (!file || !state.current) return;
  try {
    const blob = await shrink(file);
    const form = new FormData();
    form.append("image", blob, file.name || "photo.jpg");
    await call("POST", `/users/${state.current}/image`, form);
  } catch (err) {
    showError("phone-error", err.message);
  }
}

async function createUser(event) {
  event.preventDefault();
  const input = $("new-name");
  const name = input.value.trim();
  if (!name) return;
  try {
    const avatar = $("new-avatar").value;
    const user = await call("POST", "/users", { displayName: name, avatar });
    input.value = "";
    await refreshUsers();
    selectUser(user.userId);
  } catch (err) {
    showError("side-error", err.message);
  }
}

// -- start -------------------------------------------------------------------------

function buildStickerPalette() {
  const palette = $("stickers");
  for (const sticker of STICKERS) {
    const button = el("button", "", sticker.emoji);
    button.type = "button";
    button.title = sticker.name;
    button.setAttribute("aria-label", `Sticker: ${sticker.name}`);
    button.addEventListener("click", () => sendSticker(sticker));
    palette.append(button);
  }
}

function buildAvatarChoice(names) {
  const select = $("new-avatar");
  const initial = el("option", "", "Aa");
  initial.value = "";
  initial.title = "The initial of the name";
  select.append(initial);
  for (const name of names) {
    const option = el("option", "", AVATAR_EMOJI[name] || name);
    option.value = name;
    option.title = name;
    select.append(option);
  }
}

async function start() {
  buildStickerPalette();
  $("new-user").addEventListener("submit", createUser);
  $("send").addEventListener("submit", sendText);
  $("photo").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", sendPhoto);
  $("sticker-toggle").addEventListener("click", () => { $("stickers").hidden = !$("stickers").hidden; });
  $("follow").addEventListener("click", () =>
    call("POST", `/users/${state.current}/follow`).catch((err) => showError("phone-error", err.message)));
  $("block").addEventListener("click", () =>
    call("POST", `/users/${state.current}/unfollow`).catch((err) => showError("phone-error", err.message)));
  $("plan").addEventListener("change", (event) =>
    call("PATCH", "/settings", { plan: event.target.value })
      .then(() => call("GET", "/stats").then(renderStats))
      .catch((err) => showError("side-error", err.message)));

  try {
    const data = await call("GET", "/state");
    state.bot = data.bot;
    buildAvatarChoice(data.avatars || []);
    state.users = data.users;
    renderStats(data.stats);
    renderUsers();
    const wanted = new URLSearchParams(window.location.search).get("user");
    const first = state.users.find((u) => u.userId === wanted) || state.users[0];
    if (first) selectUser(first.userId);
  } catch (err) {
    showError("side-error", `Cannot reach the simulator: ${err.message}`);
  }
}

document.addEventListener("DOMContentLoaded", start);
