// Keyboard shortcuts for the dispute queue and the adjudication form. The pages work without
// it; it only adds keys. Keys are ignored while a text field has focus, except Escape (leave
// the field) and Ctrl/Cmd+Enter (resolve).
(function () {
  "use strict";

  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
      (target.tagName === "INPUT" && target.type !== "checkbox"));
  }

  function queueKeys(table) {
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    var marked = -1;
    function mark(index) {
      if (!rows.length) return;
      if (marked >= 0) rows[marked].classList.remove("marked");
      marked = Math.max(0, Math.min(rows.length - 1, index));
      rows[marked].classList.add("marked");
      rows[marked].scrollIntoView({ block: "nearest" });
    }
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      if (event.key === "j") { mark(marked + 1); event.preventDefault(); }
      else if (event.key === "k") { mark(marked - 1); event.preventDefault(); }
      else if (event.key === "Enter" && event.target === document.body) {
        var link = rows[Math.max(marked, 0)] && rows[Math.max(marked, 0)].querySelector("a");
        if (link) { link.click(); event.preventDefault(); }
      }
    });
  }

  function adjudicateKeys(form) {
    var places = Array.prototype.slice.call(form.querySelectorAll("select[name^='rank_']"));
    var keys = places.length ? Array.prototype.map.call(places[0].options, function (o) { return o.value; }) : [];
    var tie = form.querySelector("input[name='tie']");
    var rationale = form.querySelector("textarea[name='rationale']");
    var status = document.getElementById("key-status");
    var voidReason = document.querySelector("#void-form input[name='reason']");
    var picked = [];

    function say(text) { if (status) status.textContent = text; }
    function show() {
      var ranking = picked.slice();
      if (ranking.length === keys.length - 1) {
        ranking.push(keys.filter(function (key) { return ranking.indexOf(key) < 0; })[0]);
      }
      ranking.forEach(function (key, index) { places[index].value = key; });
      if (tie && ranking.length) tie.checked = false;
      say(ranking.length === keys.length
        ? "Final ranking: " + ranking.join(" > ") + ". Write the rationale (r), then Ctrl+Enter."
        : "Ranked so far: " + ranking.join(" > ") + ". Press the next response's number.");
    }
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        form.querySelector("button[value='resolve']").click();
        event.preventDefault();
        return;
      }
      if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      var number = parseInt(event.key, 10);
      if (number >= 1 && number <= keys.length) {
        var key = keys[number - 1];
        if (picked.length >= keys.length - 1) picked = [];
        if (picked.indexOf(key) >= 0) { say("Response " + key + " is ranked already; Backspace starts again."); }
        else { picked.push(key); show(); }
        event.preventDefault();
      } else if (event.key === "Backspace") {
        picked = []; say("Ranking cleared: press the best response's number first."); event.preventDefault();
      } else if (event.key === "t" && tie) {
        tie.checked = !tie.checked; say(tie.checked ? "Tie: the responses are equally good." : "No tie.");
        event.preventDefault();
      } else if (event.key === "r" && rationale) { rationale.focus(); event.preventDefault(); }
      else if (event.key === "v" && voidReason) { voidReason.focus(); event.preventDefault(); }
      else if (event.key === "n") {
        var next = document.getElementById("next-dispute");
        if (next) { next.click(); event.preventDefault(); }
      } else if (event.key === "Escape") { document.getElementById("back-to-queue").click(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var queue = document.querySelector("[data-keys='queue']");
    if (queue) queueKeys(queue);
    var form = document.querySelector("[data-keys='adjudicate']");
    if (form) adjudicateKeys(form);
  });
})();
