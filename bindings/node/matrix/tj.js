'use strict';
// Typed JSON (tests/matrix/cases.json) <-> this package's values: $int -> number when
// safe, else BigInt; $float -> Float64; $bytes -> Buffer; $datetime -> Date (JS keeps
// milliseconds and prints UTC, "Z"); $date -> CalendarDate; $uuid -> Uuid;
// $decimal -> Decimal; $repeat -> the repeated string.
const { Float64, Uuid, CalendarDate, Decimal } = require('..');

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function toValue(tj) {
  if (tj === null || typeof tj !== 'object') return tj;
  if (Array.isArray(tj)) return tj.map(toValue);
  const keys = Object.keys(tj);
  if (keys.length === 1 && keys[0].startsWith('$')) {
    const arg = tj[keys[0]];
    switch (keys[0]) {
      case '$int': {
        const big = BigInt(arg);
        return big >= -MAX_SAFE && big <= MAX_SAFE ? Number(big) : big;
      }
      case '$float': return new Float64(Number(arg));
      case '$bytes': return Buffer.from(arg, 'hex');
      case '$datetime': return new Date(arg);
      case '$date': return new CalendarDate(arg);
      case '$uuid': return new Uuid(arg);
      case '$decimal': return new Decimal(arg);
      case '$repeat': return arg[0].repeat(arg[1]);
      default: throw new Error(`unknown tag ${keys[0]}`);
    }
  }
  return Object.fromEntries(keys.map((k) => [k, toValue(tj[k])]));
}

function floatText(x) {
  if (Object.is(x, -0)) return '-0.0';
  return String(x);
}

function fromValue(v) {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return { $int: v.toString() };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`a float read as a plain number: ${v}`);
    return { $int: String(v) };
  }
  if (v instanceof Float64) return { $float: floatText(v.value) };
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('hex') };
  if (v instanceof Date) return { $datetime: v.toISOString() };
  if (v instanceof CalendarDate) return { $date: v.value };
  if (v instanceof Uuid) return { $uuid: v.value };
  if (v instanceof Decimal) return { $decimal: v.value };
  if (Array.isArray(v)) return v.map(fromValue);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromValue(x)]));
  throw new Error(`no TJ form for ${typeof v}`);
}

module.exports = { toValue, fromValue };
