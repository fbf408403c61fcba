/*
 * Drafts of the labeling page: the answers given so far to one assignment, the typed text and
 * the time spent, kept in this browser's localStorage (never on the server) under a key of
 * the user and the assignment, so a reload, a closed tab or a click on a link loses nothing.
 * label.js saves after each change (and each second, for the time), restores on load and
 * clears on submit or skip. Drafts older than a week are dropped when the page starts (the
 * lease is long gone by then). Storage may be unavailable (private mode, quota): every call
 * then quietly does nothing. Exported as window.ConcordDraft ({PageDrafts} and the storage
 * calls under it).
 */
(function () {
  "use strict";

  const PREFIX = "concord-draft:";
  const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

  function storage() {
    try {
      return window.localStorage;
    } catch (error) {
      return null;
    }
  }

  function keyFor(user, assignment) {
    return `${PREFIX}${user}:${assignment}`;
  }

  function load(key) {
    const store = storage();
    if (!store) return null;
    try {
      const draft = JSON.parse(store.getItem(key) || "null");
      return draft && typeof draft === "object" ? draft : null;
    } catch (error) {
      return null;
    }
  }

  function save(key, draft) {
    const store = storage();
    if (!store) return;
    try {
      store.setItem(key, JSON.stringify(Object.assign({ saved: Date.now() }, draft)));
    } catch (error) {
      // Full or refused: the page works on, without a draft.
    }
  }

  function clear(key) {
    const store = storage();
    if (store) store.removeItem(key);
  }

  /** Drop this user's drafts older than a week. */
  function prune(user) {
    const store = storage();
    if (!store) return;
    const mine = PREFIX + user + ":";
    for (let i = store.length - 1; i >= 0; i--) {
      const key = store.key(i);
      if (!key || !key.startsWith(mine)) continue;
      const draft = load(key);
      if (!draft || !(Date.now() - Number(draft.saved) < MAX_AGE_MS)) store.removeItem(key);
    }
  }

  function textBoxes() {
    return Array.from(document.querySelectorAll("textarea[data-criterion]"));
  }

  /** One user's drafts on the labeling page: the answers (a ConcordPanelAnswers), the text
   * boxes of the panel shown and the milliseconds spent, per assignment. */
  class PageDrafts {
    constructor(user) {
      this.user = user;
    }

    save(assignment, answers, elapsed) {
      const texts = Object.fromEntries(textBoxes().map((box) => [box.dataset.criterion, box.value]));
      save(keyFor(this.user, assignment), { answers: answers.snapshot(), texts, elapsed });
    }

    /** Put a stored draft back into ``answers`` and the text boxes; returns its elapsed
     * milliseconds, or null when this browser holds no draft of the assignment. */
    restore(assignment, answers) {
      const draft = load(keyFor(this.user, assignment));
      if (!draft) return null;
      if (draft.answers && typeof draft.answers === "object") answers.restore(draft.answers);
      const texts = draft.texts && typeof draft.texts === "object" ? draft.texts : {};
      for (const box of textBoxes()) {
        if (typeof texts[box.dataset.criterion] === "string") box.value = texts[box.dataset.criterion];
      }
      return Number.isFinite(draft.elapsed) && draft.elapsed > 0 ? draft.elapsed : 0;
    }

    clear(assignment) {
      clear(keyFor(this.user, assignment));
    }

    /** Whether the item shown is half answered: an answer given or some text typed. */
    started(answers) {
      return answers.started() || textBoxes().some((box) => box.value.trim());
    }

    prune() {
      prune(this.user);
    }
  }

  window.ConcordDraft = { PageDrafts, keyFor, load, save, clear, prune };
})();
