/*
 * Concord's labeling page: keyboard-first answers, submitted to the JSON API, and the next item
 * swapped in as a server-rendered fragment (so Markdown stays sanitised on the server).
 * Plain script, no dependencies, no inline handlers: the page's CSP allows only our own
 * files. The answers themselves (state, undo, their API shape) live in label-answers.js.
 *
 * The keyboard scheme (also listed on the page):
 *   1-9      answer the highlighted field: the better response (two responses), the next
 *            response in the ranking (more than two; the last one is placed by itself), or the
 *            score of the highlighted likert cell ("0" means 10 on a scale without 0)
 *   q w e r y u i o p   strength, weakest first (t is skipped: it is the tie key)
 *   t        tie, where the rubric allows it
 *   x c v b n m, then 1-9   toggle that flag criterion on that response
 *   j / ArrowDown, k / ArrowUp   move the highlight; answering moves it on by itself
 *   Backspace   undo: clear the highlighted answer, or step back and clear the one before
 *   /        write in the first text box (Ctrl+Enter submits, Esc leaves it)
 *   d        open or close the context documents;  g  guidelines;  s  skip with a reason
 *   f        flag the item (broken, unsafe, unanswerable) with a reason; it stays on screen
 *   Enter    submit
 *
 * On the labeling page (not when revising) the answers so far, typed text and time spent are
 * kept as a draft in this browser (label-draft.js), restored on reload, and leaving a started
 * item asks first. Status and validation messages go to the sticky bar under the toolbar.
 */
(function () {
  "use strict";

  const app = document.getElementById("label-app");
  if (!app) return;
  const MODE = app.dataset.mode;
  const STRENGTH_KEYS = "qweryuiop";
  const RETRIES = 3;

  let cfg = null; // the panel's config (ids and rubric shape), null when no item is shown
  let answers = null; // a ConcordPanelAnswers (label-answers.js) for the item shown
  let pendingFlag = null; // a flag criterion waiting for its response number
  let pendingSubmit = null; // an attempt whose answer never came: {answers, body, key}
  let busy = false;
  let elapsed = 0;
  let lastTick = performance.now();
  let leaving = false; // a navigation of our own: no "leave page?" prompt
  // Drafts of the labeling page's items (label-draft.js); none when revising.
  const drafts = MODE === "label" && app.dataset.user ? new window.ConcordDraft.PageDrafts(app.dataset.user) : null;

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  function setStatus(text, kind) {
    const status = $("#status");
    status.textContent = text;
    status.className = "status" + (kind ? " status-" + kind : "");
  }

  // --- time on the item: counted only while the page is visible --------------------------

  // Stopped, and hidden, while no item is shown (queue empty, sprint closed).
  function tick() {
    const now = performance.now();
    const before = Math.floor(elapsed / 1000);
    if (!document.hidden && cfg) elapsed += now - lastTick;
    lastTick = now;
    const seconds = Math.floor(elapsed / 1000);
    const timer = $("#timer");
    if (timer) {
      timer.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
      timer.parentElement.hidden = !cfg;
    }
    if (seconds !== before) saveDraft();
  }

  // --- the draft of the item shown (label-draft.js) -------------------------------------------

  function saveDraft() {
    if (drafts && cfg) drafts.save(cfg.assignment, answers, elapsed);
  }

  function clearDraft(assignment) {
    if (drafts) drafts.clear(assignment);
  }

  /** Leave the item just submitted or skipped for the next one, dropping its draft once the
   * next is shown: the timer's tick saves the draft of the item shown, and until the panel
   * has loaded that is still the finished one. */
  async function nextItem() {
    const finished = cfg.assignment;
    await loadPanel();
    clearDraft(finished);
  }

  function restoreDraft() {
    const saved = drafts ? drafts.restore(cfg.assignment, answers) : null;
    if (saved === null) return;
    elapsed = saved;
    if (drafts.started(answers)) setStatus("Your unsent answers to this item are back.", "ok");
  }

  function resetTimer() {
    elapsed = 0;
    lastTick = performance.now();
    tick();
  }

  // --- the panel ------------------------------------------------------------------------

  function textBox(name) {
    return $$("textarea[data-criterion]").find((box) => box.dataset.criterion === name);
  }

  function initPanel() {
    cfg = null;
    answers = null;
    pendingFlag = null;
    pendingSubmit = null;
    closeItemFlag();
    for (const button of $$("[data-act=item-flag]")) pressed(button, false);
    resetTimer();
    showProgress();
    const panel = $("#panel");
    const data = $("#panel-config");
    if (!panel || panel.dataset.state !== "item" || !data) return tick();
    cfg = JSON.parse(data.textContent);
    answers = new window.ConcordPanelAnswers(cfg);
    for (const c of cfg.criteria) {
      const box = c.kind === "text" && cfg.answers ? textBox(c.name) : null;
      if (box && typeof cfg.answers[c.name] === "string") box.value = cfg.answers[c.name];
    }
    restoreDraft();
    tick();
    draw(cfg, answers, false); // no scrolling: the page opens at its top
  }

  function answerDigit(key) {
    if (pendingFlag) {
      const responseId = cfg.responses[Number(key) - 1];
      if (responseId) answers.toggleFlag(pendingFlag, responseId);
      pendingFlag = null;
      setStatus("");
      return;
    }
    const message = answers.digit(key);
    if (message) setStatus(message);
  }

  // --- showing the state (label-view.js draws it) ------------------------------------------

  const { pressed, draw, showProgress } = window.ConcordPanelView;

  function render() {
    if (cfg) draw(cfg, answers);
    saveDraft();
  }

  function question(name) {
    const criterion = cfg && cfg.criteria.find((c) => c.name === name);
    return criterion ? criterion.question || name : name;
  }

  /** Early Enter: name the missing questions in their own words, highlight the first one and
   * move the focus there (its text box, for a text question). */
  function showMissing(missing) {
    setStatus("Still to answer: " + missing.map(question).join(" · "), "error");
    const first = cfg.criteria.find((c) => c.name === missing[0]);
    let target = null;
    if (first.kind === "text") target = textBox(first.name);
    else {
      const index = answers.fields.findIndex(
        (f) => (f.kind === "preference" || f.name === first.name) && !answers.answered(f)
      );
      if (index >= 0) answers.active = index;
      if (answers.current) target = $(`[data-field="${answers.current.id}"]`);
    }
    render();
    if (target) {
      target.focus({ preventScroll: true });
      target.scrollIntoView({ block: "center" });
    }
  }

  // --- talking to the server ----------------------------------------------------------------

  const { newKey, postJson } = window.ConcordRequests; // label-requests.js

  function describe(field) {
    const parts = field.replace(/^answers\./, "").split(".");
    if (parts[0]) parts[0] = question(parts[0]);
    const index = cfg ? cfg.responses.indexOf(parts[1]) : -1;
    if (index >= 0) parts[1] = "response " + (index + 1);
    return parts.join(" · ");
  }

  async function showProblems(response) {
    let body = {};
    try {
      body = await response.json();
    } catch (error) {
      body = {};
    }
    if (body.errors) {
      setStatus(body.errors.map((p) => `${describe(p.field || "")}: ${p.message}`).join("; "), "error");
    } else {
      setStatus(body.detail || "The server refused this (" + response.status + ").", "error");
    }
  }

  async function submit() {
    if (busy || !cfg) return;
    const [given, missing] = answers.collect((name) => (textBox(name) || { value: "" }).value);
    if (missing.length) return showMissing(missing);
    // A retry by hand of an attempt that got no answer reuses it whole, key and body.
    const same = pendingSubmit && pendingSubmit.answers === JSON.stringify(given);
    const attempt = same
      ? pendingSubmit
      : {
          answers: JSON.stringify(given),
          key: newKey(),
          body: JSON.stringify({
            assignment: cfg.assignment,
            answers: given,
            seconds: Math.round(elapsed / 1000),
          }),
        };
    busy = true;
    setStatus("Saving…");
    try {
      const response = await postJson(app.dataset.submitUrl, attempt.body, attempt.key, RETRIES);
      pendingSubmit = null;
      if (!response.ok) return await showProblems(response);
      const saved = await response.json();
      if (MODE === "revise") {
        leaving = true;
        window.location.assign(app.dataset.homeUrl + "?revised=" + saved.id);
        return;
      }
      await nextItem();
      setStatus(cfg ? "Saved. Next item." : "Saved. Your queue is empty.", "ok");
    } catch (error) {
      pendingSubmit = attempt;
      setStatus("Could not reach the server (" + error.message + "). Press Enter to try again.", "error");
    } finally {
      busy = false;
    }
  }

  async function loadPanel() {
    const response = await fetch(app.dataset.panelUrl, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      cache: "no-store",
    });
    if (response.redirected && !new URL(response.url).pathname.endsWith("/label/panel")) {
      leaving = true; // the draft stays in this browser for after the login
      window.location.assign(response.url); // the session ended: off to the login page
      return;
    }
    if (!response.ok) throw new Error("the server answered " + response.status);
    $("#panel-slot").innerHTML = await response.text();
    initPanel();
    window.scrollTo(0, 0);
  }

  // --- skip and the side panels -------------------------------------------------------------

  function openSkip() {
    if (MODE !== "label" || !cfg) return;
    const form = $("#skip-form");
    form.hidden = false;
    $("#skip-reason").focus();
  }

  function closeSkip() {
    const form = $("#skip-form");
    if (!form) return;
    form.hidden = true;
    $("#skip-reason").value = "";
    if (document.activeElement) document.activeElement.blur();
  }

  async function sendSkip(reason) {
    if (busy || !cfg) return;
    busy = true;
    setStatus("Skipping…");
    const url = app.dataset.skipUrl.replace("/0/skip", "/" + cfg.assignment + "/skip");
    try {
      // One try: a skip is not idempotent, and a second would be refused as already skipped.
      const response = await postJson(url, JSON.stringify({ reason }), null, 1);
      if (!response.ok) return await showProblems(response);
      closeSkip();
      await nextItem();
      setStatus(cfg ? "Skipped. Next item." : "Skipped. Your queue is empty.", "ok");
    } catch (error) {
      setStatus("Could not skip (" + error.message + ").", "error");
    } finally {
      busy = false;
    }
  }

  // --- flagging the item: a report for reviewers, neither an answer nor a skip --------------

  function openItemFlag() {
    if (!cfg) return;
    $("#item-flag-form").hidden = false;
    $("#item-flag-reason").focus();
  }

  function closeItemFlag() {
    const form = $("#item-flag-form");
    if (!form || form.hidden) return;
    form.hidden = true;
    $("#item-flag-reason").value = "";
    if (document.activeElement) document.activeElement.blur();
  }

  async function sendItemFlag(reason) {
    if (busy || !cfg) return;
    busy = true;
    setStatus("Flagging…");
    const url = app.dataset.flagUrl.replace("/0/flag", "/" + cfg.assignment + "/flag");
    try {
      // Safe to retry: the server keeps one flag per annotator and item.
      const response = await postJson(url, JSON.stringify({ reason }), null, RETRIES);
      if (!response.ok) return await showProblems(response);
      closeItemFlag();
      for (const button of $$("[data-act=item-flag]")) pressed(button, true);
      const what = response.status === 201 ? "Flagged for the reviewers" : "You had already flagged this item";
      setStatus(what + ". You can still answer or skip it.", "ok");
    } catch (error) {
      setStatus("Could not flag (" + error.message + "). Press f to try again.", "error");
    } finally {
      busy = false;
    }
  }

  function toggleGuidelines(force) {
    const panel = $("#guidelines");
    panel.hidden = force === undefined ? !panel.hidden : !force;
  }

  function toggleDocuments() {
    const docs = $$("details.doc");
    const open = docs.some((d) => !d.open);
    for (const doc of docs) doc.open = open;
  }

  function strengths() {
    const preference = answers.criterion("preference");
    return preference ? preference.strengths : 0;
  }

  // --- input --------------------------------------------------------------------------------

  function onKey(event) {
    const target = event.target;
    const typing = target.matches && target.matches("input, textarea, select");
    if (typing) {
      if (event.key === "Escape") {
        if (target.id === "skip-reason") closeSkip();
        else if (target.id === "item-flag-reason") closeItemFlag();
        else target.blur();
        event.preventDefault();
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.tagName === "TEXTAREA") {
        event.preventDefault();
        target.blur();
        submit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    let handled = true;
    if (key === "g") toggleGuidelines();
    else if (key === "Escape") {
      toggleGuidelines(false);
      closeSkip();
      closeItemFlag();
      pendingFlag = null;
      setStatus("");
    } else if (!cfg) handled = false;
    else if (/^[0-9]$/.test(key)) answerDigit(key);
    else if (key === "Enter") submit();
    else if (key === "Backspace") answers.undo();
    else if (key === "j" || key === "ArrowDown") answers.move(1);
    else if (key === "k" || key === "ArrowUp") answers.move(-1);
    else if (key === "t") answers.toggleTie();
    else if (key === "d") toggleDocuments();
    else if (key === "s") openSkip();
    else if (key === "f") openItemFlag();
    else if (key === "/") {
      const box = $("textarea[data-criterion]");
      if (box) box.focus();
    } else if (STRENGTH_KEYS.includes(key) && STRENGTH_KEYS.indexOf(key) < strengths()) {
      answers.setStrength(STRENGTH_KEYS.indexOf(key) + 1);
    } else {
      const flag = cfg.criteria.find((c) => c.kind === "flag" && c.flag_key === key);
      if (flag) {
        pendingFlag = flag.name;
        setStatus(`Flag "${flag.name}": press the response's number (Esc cancels).`);
      } else handled = false;
    }
    if (handled) {
      event.preventDefault();
      render();
    }
  }

  function onClick(event) {
    const button = event.target.closest("[data-act]");
    if (!button || !app.contains(button)) return;
    const act = button.dataset.act;
    if (act === "guidelines") toggleGuidelines();
    else if (act === "skip") openSkip();
    else if (act === "skip-cancel") closeSkip();
    else if (act === "item-flag") openItemFlag();
    else if (act === "item-flag-cancel") closeItemFlag();
    else if (!cfg) return;
    else if (act === "rank") {
      answers.focus("preference");
      const message = answers.rank(button.dataset.response);
      if (message) setStatus(message);
    } else if (act === "tie") answers.toggleTie();
    else if (act === "strength") answers.setStrength(Number(button.dataset.value));
    else if (act === "likert") {
      const id = `likert:${button.dataset.criterion}:${button.dataset.response}`;
      answers.focus(id);
      answers.score(answers.current, Number(button.dataset.value));
    } else if (act === "flag") answers.toggleFlag(button.dataset.criterion, button.dataset.response);
    render();
  }

  document.addEventListener("keydown", onKey);
  app.addEventListener("click", onClick);
  app.addEventListener("submit", (event) => {
    event.preventDefault();
    if (event.target.id === "skip-form") sendSkip($("#skip-reason").value.trim());
    else if (event.target.id === "item-flag-form") sendItemFlag($("#item-flag-reason").value.trim());
    else submit();
  });
  app.addEventListener("input", (event) => {
    if (event.target.matches("textarea[data-criterion]")) saveDraft();
  });
  // The draft already holds every answer; the browser's own prompt says there is one to lose.
  window.addEventListener("beforeunload", (event) => {
    if (!drafts || leaving || !answers || !drafts.started(answers)) return;
    saveDraft();
    event.preventDefault();
    event.returnValue = "";
  });
  window.addEventListener("pagehide", saveDraft);
  if ("scrollRestoration" in history) history.scrollRestoration = "manual";
  if (drafts) drafts.prune();
  setInterval(tick, 250);
  initPanel();
})();
