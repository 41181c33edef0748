// LINE message objects drawn the way a phone shows them: text bubbles,
// stickers, images, quick-reply chips under the last bubble, and Flex or
// template messages as a simple card. Every string goes in as text.

import { el, t } from "./api.js";

// Stickers drawn as emoji (LINE's images cannot be fetched offline); the one
// table lives in bot/stickers.py and comes with the page.
const stickersNode = document.getElementById("panel-stickers");
export const STICKERS = stickersNode ? JSON.parse(stickersNode.textContent) : [];

function stickerFace(packageId, stickerId) {
  const known = STICKERS.find(
    (s) => s.packageId === String(packageId) && s.stickerId === String(stickerId),
  );
  return known ? known.emoji : "🧸";
}

function isWebUrl(value) {
  return typeof value === "string" && /^https?:\/\//i.test(value);
}

function isHttps(value) {
  return typeof value === "string" && /^https:\/\//i.test(value);
}

// -- what users send: photos, videos, audio and files ----------------------------

const MEDIA = ["image", "video", "audio", "file"];
// The desk's error codes for content it cannot show, as words for the agent.
const MISSING = {
  content_gone: "No longer available on LINE",
  content_too_large: "Too large to show here",
  content_not_ready: "LINE is still preparing it. Open the conversation again shortly.",
};

/**
 * Where the panel reads a user's photo, video, audio or file message: the
 * desk's content route for what LINE keeps (same origin, so the panel's
 * Content-Security-Policy admits it), or the sender's own https:// address for
 * external content. `{url, preview, external}`, or null when there is none.
 */
export function userContent(conversationId, message) {
  if (!message || !MEDIA.includes(message.type)) return null;
  const provider = message.contentProvider || { type: "line" };
  if (provider.type === "external") {
    if (!isHttps(provider.originalContentUrl)) return null;
    const preview = isHttps(provider.previewImageUrl) ? provider.previewImageUrl : provider.originalContentUrl;
    return { url: provider.originalContentUrl, preview, external: true };
  }
  if (!message.id || !conversationId) return null;
  const url = `/api/v1/conversations/${encodeURIComponent(conversationId)}/content/${encodeURIComponent(message.id)}`;
  return { url, preview: url, external: false };
}

function byteSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n <= 0) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function duration(ms) {
  const seconds = Math.round(Number(ms) / 1000);
  if (!Number.isFinite(seconds) || seconds <= 0) return "";
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** A photo or player that did not load: ask the desk why, and say so instead.
 * Content the desk serves but the browser cannot show or play (a photo that
 * does not decode, a codec it lacks) becomes a download: LINE did give it. */
async function explainMissing(holder, url, type) {
  let code = null;
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.ok) {
      const word = type === "image" ? t("Image") : t(type);
      holder.replaceChildren(el("a", { href: url, download: true }, `⬇ ${word}`));
      return;
    }
    code = ((await response.json()) || {}).error;
  } catch (error) {
    code = null;
  }
  holder.classList.add("missing");
  holder.replaceChildren(el("span", {}, t(MISSING[code] || "Could not load it from LINE")));
}

/** A user's photo (a thumbnail opening the full image in a new tab), video or
 * audio (a player), or file (name and size as a download link). */
function userMedia(message, source) {
  const type = message.type;
  if (type === "image") {
    const holder = el("div", { class: "bubble image user-media" });
    const img = el("img", { class: "thumb", src: source.preview, alt: t("Image"), loading: "lazy" });
    if (!source.external) img.addEventListener("error", () => explainMissing(holder, source.url, type), { once: true });
    holder.append(el("a", { href: source.url, target: "_blank", rel: "noopener noreferrer", title: t("Open the full image") }, img));
    return holder;
  }
  if (type === "file" || source.external) {
    // External video and audio are links: the panel plays only its own origin.
    const icon = type === "file" ? "📄" : "▶";
    return el(
      "div",
      { class: "bubble user-media file" },
      el(
        "a",
        source.external
          ? { href: source.url, target: "_blank", rel: "noopener noreferrer" }
          : { href: source.url, download: true },
        `${icon} ${message.fileName || t(type)}`,
      ),
      message.fileSize ? el("span", { class: "size" }, byteSize(message.fileSize)) : null,
    );
  }
  const holder = el("div", { class: `bubble user-media player ${type}` });
  const player = el(type, { controls: true, preload: "metadata", src: source.url });
  player.addEventListener("error", () => explainMissing(holder, source.url, type), { once: true });
  holder.append(player);
  if (message.duration) holder.append(el("span", { class: "size" }, duration(message.duration)));
  return holder;
}

/** Every `text` of a Flex component tree, in reading order. */
function flexTexts(node, out = []) {
  if (!node || typeof node !== "object" || out.length > 40) return out;
  if (node.type === "text" && typeof node.text === "string") out.push(node);
  if (node.type === "button" && node.action && node.action.label) {
    out.push({ button: node.action.label });
  }
  for (const part of ["header", "hero", "body", "footer"]) flexTexts(node[part], out);
  for (const child of node.contents || []) flexTexts(child, out);
  return out;
}

function flexCard(message) {
  const contents = message.contents || {};
  const bubbles = contents.type === "carousel" ? contents.contents || [] : [contents];
  return el(
    "div",
    { class: "flex-set" },
    bubbles.slice(0, 12).map((bubble) => {
      const card = el("div", { class: "flex-card" });
      const hero = bubble.hero;
      if (hero && hero.type === "image" && isWebUrl(hero.url)) {
        card.append(el("img", { class: "hero", src: hero.url, alt: "", loading: "lazy" }));
      }
      for (const item of flexTexts({ header: bubble.header, body: bubble.body, footer: bubble.footer })) {
        if (item.button) card.append(el("span", { class: "flex-button" }, item.button));
        else card.append(el("p", { class: item.weight === "bold" ? "bold" : null }, item.text));
      }
      if (!card.childNodes.length) card.append(el("p", {}, message.altText || ""));
      return card;
    }),
  );
}

function templateCard(message) {
  const template = message.template || {};
  const columns = template.columns || [template];
  return el(
    "div",
    { class: "flex-set" },
    columns.map((column) =>
      el(
        "div",
        { class: "flex-card" },
        column.title ? el("p", { class: "bold" }, column.title) : null,
        el("p", {}, column.text || message.altText || ""),
        (column.actions || []).map((action) =>
          el("span", { class: "flex-button" }, action.label || action.type),
        ),
      ),
    ),
  );
}

/** One LINE message object as a bubble element; `source` (from `userContent`)
 * draws a user's photo, video, audio or file from where it is kept. */
export function bubble(message, source = null) {
  const type = message.type;
  if (source && MEDIA.includes(type)) return userMedia(message, source);
  if (type === "text" || type === "textV2") {
    return el("div", { class: "bubble text" }, message.text || "");
  }
  if (type === "sticker") {
    return el(
      "div",
      { class: "bubble sticker", title: `${message.packageId}/${message.stickerId}` },
      stickerFace(message.packageId, message.stickerId),
    );
  }
  if (type === "image") {
    const src = message.previewImageUrl || message.originalContentUrl;
    if (isWebUrl(src)) {
      return el("div", { class: "bubble image" }, el("img", { src, alt: t("Image"), loading: "lazy" }));
    }
    return el("div", { class: "bubble media" }, "🖼 " + t("Image"));
  }
  if (type === "video" || type === "audio" || type === "file") {
    return el("div", { class: "bubble media" }, `▶ ${t(type)} ${message.fileName || ""}`.trim());
  }
  if (type === "location") {
    return el(
      "div",
      { class: "bubble media" },
      "📍 ",
      message.title || message.address || `${message.latitude}, ${message.longitude}`,
    );
  }
  if (type === "flex") return el("div", { class: "bubble flex" }, flexCard(message));
  if (type === "template") return el("div", { class: "bubble flex" }, templateCard(message));
  if (type === "imagemap") return el("div", { class: "bubble media" }, "🗺 " + (message.altText || ""));
  return el("div", { class: "bubble media" }, `[${type || "?"}]`);
}

/** Quick-reply chips of a message (empty when it has none). */
export function quickReplies(message) {
  const items = (message.quickReply && message.quickReply.items) || [];
  if (!items.length) return null;
  return el(
    "div",
    { class: "chips" },
    items.map((item) => el("span", { class: "chip" }, (item.action && item.action.label) || "")),
  );
}

/** The bubbles of a list of message objects (for previews and the composer). */
export function bubbles(messages) {
  const out = [];
  for (const message of messages || []) {
    out.push(bubble(message));
    const chips = quickReplies(message);
    if (chips) out.push(chips);
  }
  return out;
}

/** A history row from the API (`type`, `text`, `media`, `message`) as a message object. */
export function messageOf(row) {
  if (row.message && row.message.type) return row.message;
  if (row.type === "text") return { type: "text", text: row.text || "" };
  if (row.type === "sticker") {
    const [packageId, stickerId] = String(row.media || "/").split("/");
    return { type: "sticker", packageId, stickerId };
  }
  if (row.type === "image" && isWebUrl(row.media)) {
    return { type: "image", originalContentUrl: row.media, previewImageUrl: row.media };
  }
  if (row.type === "location") return { type: "location", title: row.text || row.media || "" };
  if (MEDIA.includes(row.type)) {
    // A user's media row keeps the message id in `media`.
    return { type: row.type, fileName: row.text || "", id: row.direction === "in" ? row.media : undefined };
  }
  return { type: row.type || "text", text: row.text || "", altText: row.text || "" };
}
