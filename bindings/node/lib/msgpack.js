'use strict';
// MessagePack -> JS values, in JavaScript: objects built here get V8's inline caches,
// which objects built through Node-API do not (a small map reads several times faster).
// The mapping is the addon's encoder's, reversed (src/values_msgpack.cc): integers are
// numbers when safe, else BigInt; float32/64 are numbers (Float64 with wrapFloats); str
// is a string, bin a Buffer (a copy), array an Array, map a plain object (non-string
// keys become their text); ext 1 Date, 2 CalendarDate, 3 Uuid, 4 Decimal. Anything else
// (truncated input, trailing bytes, 0xc1, unknown ext types, nesting deeper than 512)
// throws CorruptValue: the caller reads it as a miss.
const { Float64, Uuid, CalendarDate, Decimal } = require('./values');

class CorruptValue extends Error {}
const MAX_DEPTH = 512;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

let buf;
let view;
let pos;
let end;
let wrapFloats;

function need(n) {
  if (end - pos < n) throw new CorruptValue('truncated MessagePack');
}

function u8() {
  need(1);
  return buf[pos++];
}
function u16() {
  need(2);
  const v = view.getUint16(pos);
  pos += 2;
  return v;
}
function u32() {
  need(4);
  const v = view.getUint32(pos);
  pos += 4;
  return v;
}
function int64(signed) {
  need(8);
  const v = signed ? view.getBigInt64(pos) : view.getBigUint64(pos);
  pos += 8;
  return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
}
function real(x) {
  return wrapFloats ? new Float64(x) : x;
}

function str(n) {
  need(n);
  const start = pos;
  pos += n;
  if (n < 16) {  // short: decode here when ASCII (no call into the runtime)
    let s = '';
    for (let i = start; i < pos; i++) {
      const c = buf[i];
      if (c > 0x7f) return buf.toString('utf8', start, pos);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return buf.toString('utf8', start, pos);
}

// Map keys: short ones come from a cache (a slot per hash of their bytes, checked byte
// for byte), so each distinct key is one string that V8 creates and internalizes once.
const KEY_SLOTS = 4096;
const keyBytes = new Array(KEY_SLOTS).fill(null);
const keyStrings = new Array(KEY_SLOTS).fill('');

function key(n) {
  if (n > 16) return str(n);
  need(n);
  let h = n;
  for (let i = pos; i < pos + n; i++) h = (Math.imul(h, 31) + buf[i]) | 0;
  const slot = (h >>> 0) & (KEY_SLOTS - 1);
  const known = keyBytes[slot];
  if (known !== null && known.length === n) {
    let i = 0;
    while (i < n && known[i] === buf[pos + i]) i++;
    if (i === n) {
      pos += n;
      return keyStrings[slot];
    }
  }
  keyBytes[slot] = Uint8Array.prototype.slice.call(buf, pos, pos + n);
  const s = str(n);
  keyStrings[slot] = s;
  return s;
}

function bin(n) {
  need(n);
  const out = Buffer.allocUnsafe(n);
  buf.copy(out, 0, pos, pos + n);
  pos += n;
  return out;
}

function array(n, depth) {
  if (n > end - pos) throw new CorruptValue('array longer than its input');
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = read(depth + 1);
  return out;
}

function map(n, depth) {
  if (n > (end - pos) / 2) throw new CorruptValue('map longer than its input');
  const out = {};
  for (let i = 0; i < n; i++) {
    const b = pos < end ? buf[pos] : 0;
    let k;
    if ((b & 0xe0) === 0xa0) {
      pos++;
      k = key(b & 0x1f);
    } else {
      k = read(depth + 1);
      if (typeof k !== 'string') k = String(k);
    }
    out[k] = read(depth + 1);
  }
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function construct(Class, text) {
  try {
    return new Class(text);
  } catch {
    throw new CorruptValue(`bad ${Class.name} text`);
  }
}

function ext(n) {
  const type = u8();
  need(n);
  const start = pos;
  pos += n;
  switch (type) {
    case 1: {
      const d = new Date(buf.toString('utf8', start, pos));
      if (Number.isNaN(d.getTime())) throw new CorruptValue('bad date-time text');
      return d;
    }
    case 2: return construct(CalendarDate, buf.toString('utf8', start, pos));
    case 3: {
      if (n !== 16) throw new CorruptValue('a UUID is 16 bytes');
      let h = '';
      for (let i = start; i < pos; i++) h += HEX[buf[i]];
      return construct(Uuid, `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
    }
    case 4: return construct(Decimal, buf.toString('utf8', start, pos));
    default: throw new CorruptValue(`unknown MessagePack ext type ${type}`);
  }
}

function read(depth) {
  if (depth > MAX_DEPTH) throw new CorruptValue('nested too deeply');
  const b = u8();
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b < 0x90) return map(b & 0x0f, depth);
  if (b < 0xa0) return array(b & 0x0f, depth);
  if (b < 0xc0) return str(b & 0x1f);
  switch (b) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return bin(u8());
    case 0xc5: return bin(u16());
    case 0xc6: return bin(u32());
    case 0xc7: return ext(u8());
    case 0xc8: return ext(u16());
    case 0xc9: return ext(u32());
    case 0xca: { need(4); const x = view.getFloat32(pos); pos += 4; return real(x); }
    case 0xcb: { need(8); const x = view.getFloat64(pos); pos += 8; return real(x); }
    case 0xcc: return u8();
    case 0xcd: return u16();
    case 0xce: return u32();
    case 0xcf: return int64(false);
    case 0xd0: return (u8() << 24) >> 24;
    case 0xd1: return (u16() << 16) >> 16;
    case 0xd2: return u32() | 0;
    case 0xd3: return int64(true);
    case 0xd4: return ext(1);
    case 0xd5: return ext(2);
    case 0xd6: return ext(4);
    case 0xd7: return ext(8);
    case 0xd8: return ext(16);
    case 0xd9: return str(u8());
    case 0xda: return str(u16());
    case 0xdb: return str(u32());
    case 0xdc: return array(u16(), depth);
    case 0xdd: return array(u32(), depth);
    case 0xde: return map(u16(), depth);
    case 0xdf: return map(u32(), depth);
    default: throw new CorruptValue('0xc1 is never used');
  }
}

/** The value of one MessagePack object in bytes [start, stop) of a Buffer. */
function decodeMsgpack(buffer, start, stop, floatsAsFloat64) {
  if (buffer !== buf) {  // a cache's scratch Buffer comes back call after call: keep its view
    buf = buffer;
    view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  pos = start;
  end = stop;
  wrapFloats = floatsAsFloat64;
  const v = read(0);
  if (pos !== end) throw new CorruptValue('trailing bytes after the value');
  return v;
}

module.exports = { decodeMsgpack, CorruptValue };
