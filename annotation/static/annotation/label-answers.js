/*
 * The answers of one item panel as plain data, without the DOM: which response is better (or
 * the ranking), the strength, likert scores, flags, and the highlighted field that digits go
 * to. label.js draws it and sends it; keeping it apart keeps each file small and readable.
 * The answer shapes are those annotation/services/answers.py accepts.
 */
(function () {
  "use strict";

  class PanelAnswers {
    constructor(config) {
      this.config = config;
      this.responses = config.responses;
      this.ranking = [];
      this.autoPlaced = false; // the last ranked response was placed by itself
      this.tie = false;
      this.strength = null;
      this.likert = {};
      this.flags = {};
      this.fields = []; // what the highlight walks: the preference, then each likert cell
      for (const c of config.criteria) {
        if (c.kind === "preference") this.fields.push({ kind: "preference", id: "preference" });
        if (c.kind === "likert") {
          this.likert[c.name] = {};
          for (const r of this.responses) {
            this.fields.push({ kind: "likert", name: c.name, response: r, id: `likert:${c.name}:${r}` });
          }
        }
        if (c.kind === "flag") this.flags[c.name] = {};
      }
      if (config.answers) this.prefill(config.answers);
      this.active = Math.max(0, this.nextUnanswered(0));
    }

    criterion(kind) {
      return this.config.criteria.find((c) => c.kind === kind);
    }

    prefill(answers) {
      for (const c of this.config.criteria) {
        const value = answers[c.name];
        if (value === undefined || value === null) continue;
        if (c.kind === "preference") {
          this.tie = value.tie === true;
          this.ranking = Array.isArray(value.ranking) ? value.ranking.slice() : [];
          this.strength = value.strength || null;
        } else if (c.kind === "likert") {
          this.likert[c.name] = Object.assign({}, value);
        } else if (c.kind === "flag") {
          this.flags[c.name] = Object.assign({}, value);
        }
      }
    }

    /** The answers as plain data for a draft (label-draft.js); restore() takes it back. */
    snapshot() {
      const { ranking, autoPlaced, tie, strength, likert, flags, active } = this;
      return { ranking, autoPlaced, tie, strength, likert, flags, active };
    }

    /** Take back a snapshot(), keeping only what still fits this panel's responses and
     * criteria (a draft is data from storage, not trusted to match). */
    restore(saved) {
      const known = (id) => this.responses.includes(id);
      if (Array.isArray(saved.ranking) && saved.ranking.every(known)) {
        this.ranking = Array.from(new Set(saved.ranking));
        this.autoPlaced = saved.autoPlaced === true;
      }
      this.tie = saved.tie === true && !!(this.criterion("preference") || {}).allow_tie;
      this.strength = Number.isInteger(saved.strength) ? saved.strength : null;
      for (const [bag, table] of [[this.likert, saved.likert], [this.flags, saved.flags]]) {
        for (const name of Object.keys(bag)) {
          const given = (table || {})[name] || {};
          for (const r of this.responses) if (given[r] != null) bag[name][r] = given[r];
        }
      }
      if (Number.isInteger(saved.active) && saved.active >= 0 && saved.active < this.fields.length) {
        this.active = saved.active;
      }
    }

    /** Whether anything is answered yet (a tie, a ranked response, a strength, a score or a
     * flag): leaving the page then asks first. */
    started() {
      if (this.tie || this.ranking.length || this.strength) return true;
      const any = (bag) => Object.values(bag).some((row) => Object.values(row).some((v) => v != null && v !== false));
      return any(this.likert) || any(this.flags);
    }

    get current() {
      return this.fields[this.active];
    }

    answered(field) {
      if (field.kind === "preference") return this.tie || this.ranking.length === this.responses.length;
      return this.likert[field.name][field.response] != null;
    }

    nextUnanswered(from) {
      for (let i = 0; i < this.fields.length; i++) {
        const index = (from + i) % this.fields.length;
        if (!this.answered(this.fields[index])) return index;
      }
      return -1;
    }

    advance() {
      const next = this.nextUnanswered(this.active + 1);
      if (next >= 0) this.active = next;
    }

    move(step) {
      this.active = Math.min(Math.max(this.active + step, 0), this.fields.length - 1);
    }

    focus(id) {
      const index = this.fields.findIndex((f) => f.id === id);
      if (index >= 0) this.active = index;
    }

    /** Put a response next in the ranking (or, with two, make it the better one). Returns a
     * message when the key cannot apply. */
    rank(responseId) {
      const all = this.responses;
      this.tie = false;
      if (all.length === 2) {
        this.ranking = [responseId, all.find((r) => r !== responseId)];
      } else {
        if (this.ranking.length === all.length || this.ranking.includes(responseId)) {
          return `Response ${all.indexOf(responseId) + 1} is ranked already; Backspace takes the last one back.`;
        }
        this.ranking.push(responseId);
        this.autoPlaced = false;
        if (this.ranking.length === all.length - 1) {
          this.ranking.push(all.find((r) => !this.ranking.includes(r)));
          this.autoPlaced = true;
        }
      }
      if (this.current && this.current.kind === "preference" && this.answered(this.current)) this.advance();
      return "";
    }

    toggleTie() {
      const preference = this.criterion("preference");
      if (!preference || !preference.allow_tie) return;
      this.tie = !this.tie;
      if (this.tie) {
        this.ranking = [];
        this.strength = null;
        if (this.current && this.current.kind === "preference") this.advance();
      }
    }

    setStrength(value) {
      this.strength = this.strength === value ? null : value;
      if (this.strength) this.tie = false;
    }

    score(field, value) {
      this.likert[field.name][field.response] = value;
      this.advance();
    }

    toggleFlag(name, responseId) {
      this.flags[name][responseId] = !this.flags[name][responseId];
    }

    clear(field) {
      if (field.kind === "likert") {
        const had = this.likert[field.name][field.response] != null;
        delete this.likert[field.name][field.response];
        return had;
      }
      if (this.tie) {
        this.tie = false;
        return true;
      }
      if (!this.ranking.length) return false;
      if (this.responses.length === 2) this.ranking = [];
      else this.ranking.splice(this.autoPlaced ? -2 : -1);
      this.autoPlaced = false;
      return true;
    }

    /** Backspace: clear the highlighted answer, or step back and clear the one before. */
    undo() {
      if (!this.current) return;
      if (!this.clear(this.current) && this.active > 0) {
        this.active -= 1;
        this.clear(this.current);
      }
    }

    /** A digit key on the highlighted field: a response number, or a score ("0" is 10 on a
     * scale without 0). */
    digit(key) {
      const field = this.current;
      if (!field) return "";
      if (field.kind === "preference") {
        const responseId = this.responses[Number(key) - 1];
        return responseId ? this.rank(responseId) : "";
      }
      const scale = this.config.criteria.find((c) => c.name === field.name).scale;
      const value = key === "0" && !scale.includes(0) ? 10 : Number(key);
      if (scale.includes(value)) this.score(field, value);
      return "";
    }

    /** The answers in the API's shape and the criteria still missing. ``textOf(name)`` reads
     * a text criterion's box. */
    collect(textOf) {
      const answers = {};
      const missing = [];
      for (const c of this.config.criteria) {
        if (c.kind === "preference") {
          if (this.tie) answers[c.name] = { tie: true };
          else if (this.ranking.length === this.responses.length) {
            answers[c.name] = { ranking: this.ranking.slice() };
            if (this.strength) answers[c.name].strength = this.strength;
          } else if (c.required) missing.push(c.name);
        } else if (c.kind === "likert") {
          const scores = this.likert[c.name];
          const given = this.responses.filter((r) => scores[r] != null);
          if (given.length === this.responses.length) {
            answers[c.name] = Object.fromEntries(this.responses.map((r) => [r, scores[r]]));
          } else if (c.required || given.length) missing.push(c.name);
        } else if (c.kind === "flag") {
          answers[c.name] = Object.fromEntries(this.responses.map((r) => [r, !!this.flags[c.name][r]]));
        } else if (c.kind === "text") {
          const text = textOf(c.name);
          if (text.trim()) answers[c.name] = text;
          else if (c.required) missing.push(c.name);
        }
      }
      return [answers, missing];
    }
  }

  window.ConcordPanelAnswers = PanelAnswers;
})();
