/*
 * Draws the answers of the item panel (a ConcordPanelAnswers from label-answers.js) onto the
 * server-rendered panel: which buttons are pressed, the rank badges and ranking list, flag
 * states, and the highlighted field. Reads nothing but its arguments and the DOM; label.js
 * calls draw() after every change. Also the toolbar's progress line (showProgress). Exported
 * as window.ConcordPanelView.
 */
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  function pressed(button, on) {
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  /** Draw ``state``; ``scroll`` (default true) brings the highlighted field into view, which
   * only a key or click should do: on load the page stays at its top, toolbar in sight. */
  function draw(cfg, state, scroll = true) {
    const two = cfg.responses.length === 2;
    for (const button of $$("[data-act=rank]")) {
      const id = button.dataset.response;
      pressed(button, !state.tie && (two ? state.ranking[0] === id : state.ranking.includes(id)));
    }
    for (const badge of $$("[data-rank-of]")) {
      const place = state.ranking.indexOf(badge.dataset.rankOf);
      if (state.tie) badge.textContent = "tie";
      else if (place < 0) badge.textContent = "";
      else badge.textContent = two ? (place === 0 ? "better" : "") : "#" + (place + 1);
    }
    const list = $("#ranking");
    if (list) {
      list.replaceChildren(
        ...state.ranking.map((id) => {
          const li = document.createElement("li");
          li.textContent = "Response " + (cfg.responses.indexOf(id) + 1);
          return li;
        })
      );
    }
    for (const button of $$("[data-act=tie]")) pressed(button, state.tie);
    for (const button of $$("[data-act=strength]")) {
      pressed(button, state.strength === Number(button.dataset.value));
    }
    for (const button of $$("[data-act=likert]")) {
      const value = state.likert[button.dataset.criterion][button.dataset.response];
      pressed(button, value === Number(button.dataset.value));
    }
    for (const button of $$("[data-act=flag]")) {
      const on = !!state.flags[button.dataset.criterion][button.dataset.response];
      pressed(button, on);
      $(".flag-state", button).textContent = on ? "yes" : "no";
    }
    const current = state.current;
    for (const element of $$("[data-field]")) {
      const field = state.fields.find((f) => f.id === element.dataset.field);
      const isCurrent = !!current && element.dataset.field === current.id;
      element.classList.toggle("active", isCurrent);
      element.classList.toggle("answered", !!field && state.answered(field));
      if (isCurrent && scroll) element.scrollIntoView({ block: "nearest" });
    }
  }

  /** The toolbar's "n left for me · n done today", from the panel the server just rendered. */
  function showProgress() {
    const panel = $("#panel");
    const line = $("#progress");
    if (!panel || !line || panel.dataset.left === undefined) return;
    line.textContent = `${panel.dataset.left} left for me · ${panel.dataset.doneToday} done today`;
    line.hidden = false;
  }

  window.ConcordPanelView = { draw, pressed, showProgress };
})();
