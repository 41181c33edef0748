// Admin: the quota page is drawn on the server; this asks LINE for its own
// count now (the worker does every few minutes) and draws the page again.

import { api, notify, ready } from "./api.js";

document.getElementById("sync").addEventListener("click", async (event) => {
  event.target.disabled = true;
  try {
    await api("POST", "/quota/sync");
    window.location.reload();
  } catch (error) {
    notify(error.message, "error");
    event.target.disabled = false;
  }
});
ready();
