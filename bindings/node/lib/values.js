'use strict';
// Value types for what JavaScript has no type of its own. Each stores as its shared
// MessagePack ext type (docs/envelope.md) and reads back as the same class, so values
// written from Python, Go, Rust, Java or C read the same here and the other way round.

/** A float64 kept as a float (1.0 stays 1.0: plain numbers that are integers store as integers). */
class Float64 {
  /** @param {number} value */
  constructor(value) {
    if (typeof value !== 'number') throw new TypeError('Float64 holds a number');
    this.value = value;
  }
  valueOf() { return this.value; }
  toJSON() { return this.value; }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A UUID (ext 3: 16 bytes); value is the canonical lower-case text. */
class Uuid {
  /** @param {string} text */
  constructor(text) {
    if (typeof text !== 'string' || !UUID_RE.test(text)) throw new TypeError(`not a UUID: ${text}`);
    this.value = text.toLowerCase();
  }
  toString() { return this.value; }
  toJSON() { return this.value; }
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
/** A calendar date without time or zone (ext 2); value is "YYYY-MM-DD". */
class CalendarDate {
  /** @param {string} text */
  constructor(text) {
    if (typeof text !== 'string' || !DATE_RE.test(text) || Number.isNaN(Date.parse(`${text}T00:00:00Z`))) {
      throw new TypeError(`not a YYYY-MM-DD date: ${text}`);
    }
    this.value = text;
  }
  toString() { return this.value; }
  toJSON() { return this.value; }
}

const DECIMAL_RE = /^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|NaN|sNaN|Infinity)$/;
/** An exact decimal number (ext 4); value is its decimal text ("12.50"). */
class Decimal {
  /** @param {string} text */
  constructor(text) {
    if (typeof text !== 'string' || !DECIMAL_RE.test(text)) throw new TypeError(`not a decimal: ${text}`);
    this.value = text;
  }
  toString() { return this.value; }
  toJSON() { return this.value; }
}

module.exports = { Float64, Uuid, CalendarDate, Decimal };
