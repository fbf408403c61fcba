/*
 * How the labeling page talks to the JSON API: a POST with the session's CSRF token, retried on
 * network errors and 5xx with the same body (and Idempotency-Key, when there is one), and the
 * keys themselves. Shared by label.js for submits, skips and flags; plain script, no
 * dependencies, exported as window.ConcordRequests.
 */
(function () {
  "use strict";

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // randomUUID needs a secure context; getRandomValues does not.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Every try sends the same body and Idempotency-Key: if a try reached the server but its
  // answer was lost, the retry is answered with what is already stored, not a second one.
  async function postJson(url, body, key, tries) {
    const headers = {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
    };
    if (key) headers["Idempotency-Key"] = key;
    let failure = null;
    for (let attempt = 0; attempt < tries; attempt++) {
      if (attempt) await sleep(400 * 2 ** attempt);
      try {
        const response = await fetch(url, { method: "POST", credentials: "same-origin", headers, body });
        if (response.status < 500) return response;
        failure = new Error("the server answered " + response.status);
      } catch (error) {
        failure = error;
      }
    }
    throw failure;
  }

  window.ConcordRequests = { newKey, postJson };
})();
