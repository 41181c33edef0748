// A rule's replies as cards: 1 to 5 messages (text, sticker or image) and the
// quick-reply chips of the last one, kept in step with the JSON textarea that
// power users edit. The JSON is always what is saved; the cards only ever
// show a reply they can write back exactly, so no field is ever dropped.

import { el, t } from "./api.js";
import { STICKERS } from "./line.js";

/** LINE takes 1 to 5 messages per reply and 13 quick-reply items. */
export const MAX_MESSAGES = 5;
export const MAX_CHIPS = 13;
/** LINE's limits in characters (code points, as the desk's validation counts). */
export const TEXT_LIMIT = 5000;
export const LABEL_LIMIT = 20;

/** The desk's "talk to a person" quick reply: the same postback data, label
 * and display text as OFFER_PERSON in bot/answers.py, whose data the shipped
 * hand-off rule answers (a browser test checks the two agree). */
export const HANDOFF_DATA = "action=handoff";
export const OFFER_PERSON = {
  label: "担当者と話す / Talk to us",
  displayText: "担当者と話す / Talk to a person",
};

const KINDS = ["text", "sticker", "image"];
const CHIP_KINDS = ["message", "postback", "handoff"];
const KIND_WORDS = { text: "Text message", sticker: "Sticker", image: "Image" };
const CHIP_WORDS = {
  message: "Sends a text",
  postback: "Sends postback data",
  handoff: "Talk to a person",
};

/** Length as LINE and the desk's validation count it: in code points. */
export const length = (text) => [...text].length;

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const isString = (value) => typeof value === "string";
const isHttps = (value) => /^https:\/\/\S+$/i.test(value);

/** True when `object` has every `required` key and no key beyond `optional`. */
function hasOnly(object, required, optional = []) {
  const allowed = new Set([...required, ...optional]);
  return required.every((name) => name in object) && Object.keys(object).every((name) => allowed.has(name));
}

export function blankCard(kind = "text") {
  const sticker = STICKERS[0] || { packageId: "", stickerId: "" };
  return { kind, text: "", packageId: sticker.packageId, stickerId: sticker.stickerId, original: "", preview: "" };
}

export function blankChip(kind = "message") {
  const chip = { kind, label: "", text: "", data: "", displayText: "" };
  return kind === "handoff" ? { ...chip, ...OFFER_PERSON } : chip;
}

function cardOf(message, last) {
  if (!isObject(message)) return null;
  const extra = last ? ["quickReply"] : [];
  const card = blankCard(message.type);
  if (message.type === "text" && hasOnly(message, ["type", "text"], extra) && isString(message.text)) {
    return { ...card, text: message.text };
  }
  if (
    message.type === "sticker" &&
    hasOnly(message, ["type", "packageId", "stickerId"], extra) &&
    isString(message.packageId) &&
    isString(message.stickerId)
  ) {
    return { ...card, packageId: message.packageId, stickerId: message.stickerId };
  }
  if (
    message.type === "image" &&
    hasOnly(message, ["type", "originalContentUrl", "previewImageUrl"], extra) &&
    isString(message.originalContentUrl) &&
    isString(message.previewImageUrl)
  ) {
    const original = message.originalContentUrl;
    const preview = message.previewImageUrl;
    // An empty preview field means "the original"; an empty preview beside a
    // given original cannot be written back, so the JSON keeps it.
    if (!preview && original) return null;
    return { ...card, original, preview: preview === original ? "" : preview };
  }
  return null;
}

function chipOf(item) {
  if (!isObject(item) || !hasOnly(item, ["type", "action"]) || item.type !== "action") return null;
  const action = item.action;
  if (!isObject(action) || !isString(action.label)) return null;
  if (action.type === "message" && hasOnly(action, ["type", "label", "text"]) && isString(action.text)) {
    return { ...blankChip("message"), label: action.label, text: action.text };
  }
  if (
    action.type === "postback" &&
    hasOnly(action, ["type", "label", "data"], ["displayText"]) &&
    isString(action.data) &&
    (!("displayText" in action) || (isString(action.displayText) && action.displayText !== ""))
  ) {
    const kind = action.data === HANDOFF_DATA ? "handoff" : "postback";
    return { ...blankChip("postback"), kind, label: action.label, data: action.data, displayText: action.displayText || "" };
  }
  return null;
}

/**
 * `{cards, chips}` for a reply (a list of LINE message objects), or null when
 * any part of it is something the cards cannot show: then the JSON is the
 * editor, because writing the cards back would drop that part.
 */
export function toCards(messages) {
  if (!Array.isArray(messages) || messages.length < 1 || messages.length > MAX_MESSAGES) return null;
  const cards = [];
  let chips = [];
  for (const [index, message] of messages.entries()) {
    const last = index === messages.length - 1;
    const card = cardOf(message, last);
    if (!card) return null;
    if (last && "quickReply" in message) {
      const quick = message.quickReply;
      if (!isObject(quick) || !hasOnly(quick, ["items"]) || !Array.isArray(quick.items)) return null;
      if (quick.items.length < 1 || quick.items.length > MAX_CHIPS) return null;
      chips = quick.items.map(chipOf);
      if (chips.includes(null)) return null;
    }
    cards.push(card);
  }
  return { cards, chips };
}

function messageOf(card) {
  if (card.kind === "sticker") return { type: "sticker", packageId: card.packageId, stickerId: card.stickerId };
  if (card.kind === "image") {
    return { type: "image", originalContentUrl: card.original, previewImageUrl: card.preview || card.original };
  }
  return { type: "text", text: card.text };
}

function itemOf(chip) {
  if (chip.kind === "message") return { type: "action", action: { type: "message", label: chip.label, text: chip.text } };
  const action = { type: "postback", label: chip.label, data: chip.kind === "handoff" ? HANDOFF_DATA : chip.data };
  if (chip.displayText) action.displayText = chip.displayText;
  return { type: "action", action };
}

/** The LINE message objects the cards describe (the inverse of `toCards`). */
export function toMessages({ cards, chips }) {
  const messages = cards.map(messageOf);
  if (chips.length) messages[messages.length - 1].quickReply = { items: chips.map(itemOf) };
  return messages;
}

/** Errors for image addresses LINE would refuse (it takes https:// only),
 * named as the desk names fields (`reply[0].originalContentUrl`). */
export function httpErrors(messages, field = "reply") {
  const errors = [];
  for (const [index, message] of (Array.isArray(messages) ? messages : []).entries()) {
    if (!isObject(message) || message.type !== "image") continue;
    for (const name of ["originalContentUrl", "previewImageUrl"]) {
      if (isString(message[name]) && !isHttps(message[name])) {
        errors.push({ field: `${field}[${index}].${name}`, message: t("LINE needs an https:// address for images.") });
      }
    }
  }
  return errors;
}

// -- the editor -------------------------------------------------------------------

let serial = 0;
const newId = (name) => `reply-${name}-${++serial}`;

function counter(input, limit) {
  const out = el("span", { class: "counter", id: newId("count") });
  const update = () => {
    const n = length(input.value);
    out.textContent = `${n} / ${limit}`;
    out.classList.toggle("over", n > limit);
  };
  input.addEventListener("input", update);
  update();
  return out;
}

function field(labelText, input, ...after) {
  input.id = input.id || newId("field");
  return el("div", { class: "reply-field" }, el("label", { for: input.id }, labelText), input, ...after);
}

function choice(options, value) {
  const select = el("select", {}, options.map(([v, text]) => el("option", { value: v }, text)));
  select.value = value;
  return select;
}

const CARD_BUTTONS = { up: "Move reply {n} up", down: "Move reply {n} down", remove: "Remove reply {n}" };
const CHIP_BUTTONS = { up: "Move quick reply {n} up", down: "Move quick reply {n} down", remove: "Remove quick reply {n}" };

/**
 * The cards editor in `root`, synced with `textarea` (the reply as JSON).
 *
 * `onChange()` runs after either side changed the reply (for the preview).
 * The textarea is rewritten only when the cards change, so what a power user
 * types there stays as typed. Returns `{load, showErrors, mode}`.
 */
export function replyEditor({ root, textarea, note, details, onChange }) {
  let state = { cards: [blankCard()], chips: [] };
  let mode = "cards";

  function write() {
    textarea.value = JSON.stringify(toMessages(state), null, 2);
    onChange();
  }

  /** Read the textarea: cards when they can show it, else the note. */
  function load() {
    let parsed;
    let valid = true;
    try {
      parsed = JSON.parse(textarea.value);
    } catch (error) {
      valid = false;
    }
    const cards = valid ? toCards(parsed) : null;
    if (cards) {
      state = cards;
      mode = "cards";
      render();
    } else {
      mode = "json";
      note.textContent = valid
        ? t("This reply uses advanced LINE messages; edit it as JSON.")
        : t("The JSON is not valid yet.");
      details.open = true;
    }
    root.hidden = mode !== "cards";
    note.hidden = mode === "cards";
  }

  // The two lists the editor keeps: the messages (at least one) and the
  // chips of the last message; each item's node has `data-<attr>="index"`.
  const LISTS = {
    card: { items: () => state.cards, blank: blankCard, least: 1, most: MAX_MESSAGES, first: ".reply-kind", buttons: CARD_BUTTONS },
    chip: { items: () => state.chips, blank: blankChip, least: 0, most: MAX_CHIPS, first: ".chip-label", buttons: CHIP_BUTTONS },
  };

  /** Apply `change` to a list, draw it again focusing `focus`, write the JSON. */
  function edit(change, focus) {
    change();
    render(focus);
    write();
  }

  function move(attr, index, step) {
    const items = LISTS[attr].items();
    edit(
      () => ([items[index], items[index + step]] = [items[index + step], items[index]]),
      `[data-${attr}="${index + step}"] .${step < 0 ? "move-up" : "move-down"}`,
    );
  }

  function remove(attr, index) {
    const items = LISTS[attr].items();
    const focus = items.length > 1 ? `[data-${attr}="${Math.max(0, index - 1)}"] ${LISTS[attr].first}` : `#${attr}-add`;
    edit(() => items.splice(index, 1), focus);
  }

  function add(attr) {
    const items = LISTS[attr].items();
    edit(() => items.push(LISTS[attr].blank()), `[data-${attr}="${items.length}"] ${LISTS[attr].first}`);
  }

  /** Up, down and remove buttons for item `index` of list `attr`; their
   * names say which item for screen readers ("Move reply 2 up"). */
  function tools(attr, index) {
    const { items, least, buttons } = LISTS[attr];
    const count = items().length;
    const n = index + 1;
    return el(
      "div",
      { class: "reply-tools" },
      el("button", { type: "button", class: "move-up", "aria-label": t(buttons.up, { n }), disabled: index === 0, onclick: () => move(attr, index, -1) }, "↑"),
      el("button", { type: "button", class: "move-down", "aria-label": t(buttons.down, { n }), disabled: index === count - 1, onclick: () => move(attr, index, 1) }, "↓"),
      el("button", { type: "button", class: "remove", "aria-label": t(buttons.remove, { n }), disabled: count <= least, onclick: () => remove(attr, index) }, t("Remove")),
    );
  }

  function addButton(attr, words) {
    const { items, most } = LISTS[attr];
    return el("button", { type: "button", id: `${attr}-add`, disabled: items().length >= most, onclick: () => add(attr) }, words);
  }

  /** An input bound to `object[name]`: typing updates the JSON, no re-render. */
  function bound(input, object, name, check) {
    input.value = object[name];
    input.addEventListener("input", () => {
      object[name] = input.value;
      if (check) check();
      write();
    });
    return input;
  }

  function imageAddress(card, name, labelText, placeholder) {
    const input = el("input", { type: "url", class: `reply-${name}`, placeholder, spellcheck: "false" });
    const problem = el("p", { class: "error", id: newId("problem"), hidden: true, role: "alert" });
    input.setAttribute("aria-describedby", problem.id);
    const check = () => {
      const bad = input.value !== "" && !isHttps(input.value);
      problem.hidden = !bad;
      problem.textContent = bad ? t("LINE needs an https:// address for images.") : "";
      input.toggleAttribute("aria-invalid", bad);
    };
    bound(input, card, name, check);
    check();
    return field(labelText, input, problem);
  }

  function cardBody(card) {
    if (card.kind === "sticker") {
      const known = STICKERS.map((s) => [`${s.packageId}/${s.stickerId}`, `${s.emoji} ${t(s.name)}`]);
      const current = `${card.packageId}/${card.stickerId}`;
      if (!known.some(([value]) => value === current)) known.push([current, `🧸 ${current}`]);
      const select = choice(known, current);
      select.classList.add("reply-sticker");
      select.addEventListener("change", () => {
        [card.packageId, card.stickerId] = select.value.split("/");
        write();
      });
      return [field(t("Sticker"), select)];
    }
    if (card.kind === "image") {
      return [
        imageAddress(card, "original", t("Image address (https://)"), "https://…"),
        imageAddress(card, "preview", t("Preview address (https://)"), t("Same as the image")),
      ];
    }
    const text = bound(el("textarea", { class: "reply-text", rows: 3 }), card, "text");
    const hint = el("p", { class: "help", id: newId("hint") }, t("{display_name} is replaced by the user's name."));
    const count = counter(text, TEXT_LIMIT);
    text.setAttribute("aria-describedby", `${count.id} ${hint.id}`);
    return [field(t("Text"), text, count), hint];
  }

  function cardNode(card, index) {
    const kind = choice(KINDS.map((k) => [k, t(KIND_WORDS[k])]), card.kind);
    kind.classList.add("reply-kind");
    kind.addEventListener("change", () => edit(() => (card.kind = kind.value), `[data-card="${index}"] .reply-kind`));
    return el(
      "fieldset",
      { class: "reply-card", dataset: { card: String(index) } },
      el("legend", {}, t("Reply {n}", { n: index + 1 })),
      el("div", { class: "reply-head" }, field(t("Kind"), kind), tools("card", index)),
      ...cardBody(card),
      el("ul", { class: "field-errors reply-errors" }),
    );
  }

  function chipNode(chip, index) {
    const kind = choice(CHIP_KINDS.map((k) => [k, t(CHIP_WORDS[k])]), chip.kind);
    kind.classList.add("chip-kind");
    kind.addEventListener("change", () =>
      edit(() => {
        chip.kind = kind.value;
        if (chip.kind === "handoff") {
          chip.label = chip.label || OFFER_PERSON.label;
          chip.displayText = chip.displayText || OFFER_PERSON.displayText;
        }
      }, `[data-chip="${index}"] .chip-kind`),
    );
    const label = bound(el("input", { class: "chip-label" }), chip, "label");
    const count = counter(label, LABEL_LIMIT);
    label.setAttribute("aria-describedby", count.id);
    const parts = [
      el("div", { class: "reply-head" }, field(t("Kind"), kind), tools("chip", index)),
      field(t("Label"), label, count),
    ];
    if (chip.kind === "message") {
      parts.push(field(t("Text it sends"), bound(el("input", { class: "chip-text" }), chip, "text")));
    } else {
      if (chip.kind === "postback") {
        parts.push(field(t("Postback data"), bound(el("input", { class: "chip-data", spellcheck: "false" }), chip, "data")));
      } else {
        parts.push(el("p", { class: "help" }, t("Puts the user in the queue for a person (postback {data}).", { data: HANDOFF_DATA })));
      }
      parts.push(field(t("Shown in the chat (optional)"), bound(el("input", { class: "chip-display" }), chip, "displayText")));
    }
    return el(
      "fieldset",
      { class: "chip-card", dataset: { chip: String(index) } },
      el("legend", {}, t("Quick reply {n}", { n: index + 1 })),
      ...parts,
      el("ul", { class: "field-errors reply-errors" }),
    );
  }

  /** Draw the cards and chips again; then focus `focus` (a selector) if given. */
  function render(focus) {
    root.replaceChildren(
      el("div", { class: "reply-cards" }, state.cards.map(cardNode)),
      addButton("card", t("Add a reply")),
      el(
        "section",
        { class: "reply-chips", "aria-labelledby": "chips-title" },
        el("h3", { id: "chips-title" }, t("Quick replies")),
        el("p", { class: "help" }, t("Buttons under the last reply (LINE shows only the last one's); up to 13.")),
        state.chips.map(chipNode),
        addButton("chip", t("Add a quick reply")),
      ),
    );
    const target = focus && root.querySelector(focus);
    if (target) (target.disabled ? root.querySelector(focus.replace(/ \..*$/, " select")) : target)?.focus();
  }

  /** Put `errors` whose field is in a reply (`reply[1].text`, or a quick
   * reply of the last one) beside its card or chip; true when any was placed. */
  function showErrors(errors) {
    for (const list of root.querySelectorAll(".reply-errors")) list.replaceChildren();
    if (mode !== "cards") return false;
    let placed = false;
    const last = state.cards.length - 1;
    for (const error of errors) {
      const found = /^(?:rule\.)?reply\[(\d+)\](?:\.quickReply\.items\[(\d+)\])?(.*)$/.exec(error.field || "");
      if (!found) continue;
      const [, card, chip, rest] = found;
      const where =
        chip !== undefined && Number(card) === last
          ? root.querySelector(`[data-chip="${chip}"] .reply-errors`)
          : root.querySelector(`[data-card="${card}"] .reply-errors`);
      if (!where) continue;
      const name = (rest || "").replace(/^\./, "");
      where.append(el("li", {}, name ? `${name}: ${error.message}` : error.message));
      placed = true;
    }
    return placed;
  }

  textarea.addEventListener("input", () => {
    load();
    onChange();
  });

  return { load, showErrors, mode: () => mode };
}
