// Live status of a background job (an export, a training run) without reloading the page.
//
// Markup: an element with data-live-url (a JSON API URL of the job) holds elements with
// data-live="<field>"; each is set from the answer's field of that name every
// data-live-interval milliseconds (default 2000) until the status is one of data-live-final
// (space-separated). data-live-format="percent" shows a 0..1 fraction as "67%" (and sets a
// <progress> element's value); "step" shows "current_step of total_steps". Elements with
// data-live-show="<status> ..." are shown only in those states. Missing or null fields
// show "–". data-live-mirror="field=selector;field=selector" also keeps elements elsewhere on
// the page (an admin page's read-only fields) up to date; "progress" is shown as a
// percentage there too. Polling stops on a final status, or after a 4xx (the job is gone or
// not ours).
(function () {
  "use strict";

  function percent(value) {
    if (typeof value !== "number" || !isFinite(value)) return "–";
    return Math.round(Math.max(0, Math.min(1, value)) * 100) + "%";
  }

  function text(body, el) {
    var field = el.getAttribute("data-live");
    var format = el.getAttribute("data-live-format");
    if (format === "percent") return percent(body[field]);
    if (format === "step") {
      if (!body.total_steps) return "–";
      return body.current_step + " of " + body.total_steps;
    }
    var value = body[field];
    return value === null || value === undefined || value === "" ? "–" : String(value);
  }

  function apply(box, body) {
    box.querySelectorAll("[data-live]").forEach(function (el) {
      if (el.tagName === "PROGRESS") {
        var value = body[el.getAttribute("data-live")];
        if (typeof value === "number") el.value = value;
        el.textContent = percent(value);
        return;
      }
      el.textContent = text(body, el);
    });
    box.querySelectorAll("[data-live-show]").forEach(function (el) {
      var states = el.getAttribute("data-live-show").split(" ");
      el.hidden = states.indexOf(body.status) < 0;
    });
    (box.getAttribute("data-live-mirror") || "").split(";").forEach(function (pair) {
      var at = pair.indexOf("=");
      if (at < 1) return;
      var field = pair.slice(0, at).trim();
      document.querySelectorAll(pair.slice(at + 1)).forEach(function (el) {
        var value = body[field];
        el.textContent = field === "progress" ? percent(value) : value === null ? "–" : String(value);
      });
    });
    box.setAttribute("data-live-status", body.status);
  }

  function watch(box) {
    var url = box.getAttribute("data-live-url");
    var every = parseInt(box.getAttribute("data-live-interval") || "2000", 10);
    var final = (box.getAttribute("data-live-final") || "done failed cancelled").split(" ");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.status >= 400 && response.status < 500) return null;
          return response.ok ? response.json() : {};
        })
        .then(function (body) {
          if (body === null) return;
          if (body.status) apply(box, body);
          if (final.indexOf(body.status) < 0) window.setTimeout(poll, every);
        })
        .catch(function () {
          window.setTimeout(poll, every * 2);
        });
    }
    var mirrored = box.getAttribute("data-live-mirror") || "";
    if (mirrored.indexOf("progress=") >= 0) {
      // The server wrote the raw fraction (0.6666…); show it as the box does, at once.
      var selector = mirrored.split(";").filter(function (pair) {
        return pair.indexOf("progress=") === 0;
      })[0].slice("progress=".length);
      document.querySelectorAll(selector).forEach(function (el) {
        var value = parseFloat(el.textContent);
        if (!isNaN(value)) el.textContent = percent(value);
      });
    }
    if (final.indexOf(box.getAttribute("data-live-status")) < 0) window.setTimeout(poll, every);
  }

  document.querySelectorAll("[data-live-url]").forEach(watch);
})();
