// The panel's link to /api/v1: JSON calls with the session's CSRF token, the
// page's translated words, and small formatting helpers shared by every page.
//
// Everything a LINE user or an agent wrote reaches the page through `el()` and
// `textContent`, never as HTML.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
const wordsNode = document.getElementById("panel-words");
const WORDS = wordsNode ? JSON.parse(wordsNode.textContent) : {};

/** The translated word for `key`, with `{name}` placeholders filled in. */
export function t(key, values = {}) {
  const text = WORDS[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    name in values ? String(values[name]) : whole,
  );
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
    this.field = body && body.field;
    this.errors = (body && body.errors) || [];
  }
}

/** Call the API with a JSON body (or a FormData, sent as multipart); resolves
 * to the JSON body, rejects with ApiError. */
export async function api(method, path, body, headers = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...headers },
  };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrf;
  if (body instanceof FormData) {
    init.body = body; // multipart: the browser writes the Content-Type
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch("/api/v1" + path, init);
  } catch (error) {
    throw new ApiError(0, { error: "offline", message: t("The desk cannot be reached.") });
  }
  if (response.status === 401) {
    window.location.assign("/login?next=" + encodeURIComponent(location.pathname));
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (error) {
      data = { message: text.slice(0, 200) };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** A new element; `children` are nodes or strings (added as text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Seconds as m:ss (or h:mm:ss). */
export function clock(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** A duration for people: "45 s", "3 min", "2 h 5 min", "3 d". */
export function ago(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds < 60) return t("{n} s", { n: seconds });
  if (seconds < 3600) return t("{n} min", { n: Math.floor(seconds / 60) });
  if (seconds < 86400) {
    return t("{h} h {m} min", {
      h: Math.floor(seconds / 3600),
      m: Math.floor((seconds % 3600) / 60),
    });
  }
  return t("{n} d", { n: Math.floor(seconds / 86400) });
}

/** Epoch seconds (or ISO text) as a local date and time. */
export function when(value) {
  if (value === null || value === undefined || value === "") return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(document.documentElement.lang || undefined, {
    dateStyle: "short",
    timeStyle: "short",
  });
}

/** Now in epoch seconds, on the desk's clock (set from each response's Date). */
let skew = 0;
export function now() {
  return Date.now() / 1000 + skew;
}
export function setServerTime(epochSeconds) {
  if (Number.isFinite(epochSeconds)) skew = epochSeconds - Date.now() / 1000;
}

/** Show `message` in the page's status line (role=status) for a while. */
export function notify(message, kind = "info") {
  const box = document.getElementById("notice");
  if (!box) return;
  box.textContent = message;
  box.className = `notice ${kind}`;
  box.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => (box.hidden = true), kind === "error" ? 8000 : 3500);
}

/** Mark the page ready once `work` (its first load) has settled.

`document.body.dataset.ready` turns "true" then, whether the load worked or
showed an error: browser tests and scripts wait on it rather than racing
the first fetch, which would overwrite what they type.
*/
export function ready(work) {
  Promise.resolve(work).finally(() => {
    document.body.dataset.ready = "true";
  });
}

/** Listen to /api/v1/events; `onEvent(kind, data)`, `onOpen()` on each (re)connect.

The browser reconnects a dropped stream by itself, but not one the server
refused (503 when a process has too many streams, 401 when the session
ended); those are retried here, later each time, up to a minute apart.
`document.body.dataset.live` says whether the stream is on.
*/
export function listen(onEvent, onOpen) {
  // The kinds the server publishes (api.events.publish): an SSE event named
  // otherwise reaches no listener. tests/panel/test_scripts.py checks the list.
  const kinds = [
    "conversation.opened",
    "conversation.queued",
    "conversation.assigned",
    "conversation.closed",
    "conversation.message",
    "conversation.note",
    "user.tags",
    "quota.warning",
  ];
  const handle = (event) => {
    let payload = {};
    try {
      payload = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (payload.time) setServerTime(payload.time);
    onEvent(payload.kind || event.type, payload.data || {});
  };
  let delay = 2000;
  const connect = () => {
    const source = new EventSource("/api/v1/events");
    for (const kind of kinds) source.addEventListener(kind, handle);
    source.addEventListener("message", handle);
    source.addEventListener("open", () => {
      delay = 2000;
      document.body.dataset.live = "on";
      if (onOpen) onOpen();
    });
    source.addEventListener("error", () => {
      document.body.dataset.live = "off";
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, delay + Math.random() * 1000);
        delay = Math.min(delay * 2, 60000);
      }
    });
  };
  document.body.dataset.live = "connecting";
  connect();
}
