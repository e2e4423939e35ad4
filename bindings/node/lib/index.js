'use strict';
// stratacache for Node.js: the public Cache class over the native addon.
const path = require('node:path');
const errors = require('./errors');
const values = require('./values');
const { decodeMsgpack, CorruptValue } = require('./msgpack');

const native = require(path.join(__dirname, '..', 'build', 'Release', 'stratacache_native.node'));
const { makeError, ...errorClasses } = errors;
native.setTypes({ makeError, decodeMsgpack, ...values });

const FORMATS = { raw: 0, json: 1, msgpack: 2 };
const SKIP_L1 = 1;
const SKIP_L2 = 2;
const MISS = Symbol('miss');

function formatCode(name, what = 'format') {
  const code = FORMATS[name];
  if (code === undefined) throw new errors.CacheConfigError(`${what} must be 'msgpack', 'json' or 'raw', not ${name}`, 'EINVAL', -2);
  return code;
}

function hexOrBytes(key) {
  return typeof key === 'string' ? Buffer.from(key, 'hex') : key;
}

// The native positional arguments of per-call options: flags, timeoutMs.
function flagsOf(o) {
  return (o.skipL1 ? SKIP_L1 : 0) | (o.skipL2 ? SKIP_L2 : 0);
}

// Options checked in JS (a format name) fail the returned Promise, as the addon's checks do.
function rejecting(fn) {
  try {
    return fn();
  } catch (e) {
    return Promise.reject(e);
  }
}

function keyList(keys) {
  return Array.isArray(keys) ? keys : [...keys];
}

const REFUSED_VALUES = new WeakSet();

class Cache {
  #n;
  #l1Only;
  #wrapFloats;
  #scratch = Buffer.allocUnsafeSlow(64 * 1024);

  /**
   * @param {string} [url] a stratacache URL (mem://, redis://..., rediss://..., unix://...)
   * @param {object} [options] serializer, failSilently, floats, encryptionKeys, shared (see README)
   */
  constructor(url = 'mem://', options = {}) {
    const query = url.includes('?') ? new URLSearchParams(url.slice(url.indexOf('?') + 1)) : new URLSearchParams();
    const serializer = options.serializer ?? query.get('serializer') ?? 'msgpack';
    const serializerCode = formatCode(serializer, 'serializer');
    const floats = options.floats ?? 'number';
    if (floats !== 'number' && floats !== 'Float64') throw new errors.CacheConfigError("floats must be 'number' or 'Float64'", 'EINVAL', -2);
    this.#l1Only = url.startsWith('mem:');
    if (options.shared !== undefined && (typeof options.shared !== 'string' || options.shared === '')) {
      throw new errors.CacheConfigError('shared must be a non-empty string', 'EINVAL', -2);
    }
    const keys = (options.encryptionKeys ?? []).map((k, i) => [k.id, hexOrBytes(k.key), k.primary ?? i === 0]);
    this.#wrapFloats = floats === 'Float64';
    try {
      this.#n = new native.NativeCache(url, keys, serializerCode, options.failSilently ?? true, this.#wrapFloats,
        options.shared);
      this.#n.setScratch(this.#scratch);
    } catch (e) {
      // Refused settings (a bad URL, parameter or key) are configuration errors.
      if (e instanceof errors.CacheValueError) throw new errors.CacheConfigError(e.message, e.code, e.status);
      throw e;
    }
  }

  /** The value of key, or undefined when it is missing. L1 is asked first, synchronously. */
  get(key, o) {
    const flags = o === undefined ? 0 : flagsOf(o);
    if (!(flags & SKIP_L1)) {
      let v;
      try {
        v = this.#peek(key);
      } catch (e) {
        return Promise.reject(e);
      }
      if (v !== MISS) return Promise.resolve(v);
      if (this.#l1Only || flags & SKIP_L2) return Promise.resolve(undefined);
    }
    return o === undefined ? this.#n.get(key) : this.#n.get(key, flags, o.timeout);
  }

  // The L1 copy of key (decoded from the scratch Buffer the addon copied it into), or
  // MISS. Bytes that do not decode are a miss that Redis would not answer otherwise:
  // undefined.
  #peek(key) {
    let r = this.#n.peek(key);
    if (r === -1) return MISS;
    if (r < -1) {
      this.#scratch = Buffer.allocUnsafeSlow(-2 - r);
      this.#n.setScratch(this.#scratch);
      r = this.#n.peek(key);
      if (r < 0) return MISS;  // changed in between: ask Redis
    }
    const format = r % 4;
    const len = (r - format) / 4;
    const bytes = this.#scratch;
    if (format === FORMATS.msgpack) {
      try {
        return decodeMsgpack(bytes, 0, len, this.#wrapFloats);
      } catch (e) {
        if (e instanceof CorruptValue) return undefined;
        throw e;
      }
    }
    if (format === FORMATS.raw) return Buffer.from(bytes.subarray(0, len));
    return native.decodeValue(bytes.subarray(0, len), format, this.#wrapFloats);
  }

  /** Store value (Buffer: raw bytes; anything else: the serializer) for o.ttl ms (0: no expiry). */
  set(key, value, o) {
    if (o === undefined) return this.#n.set(key, value);
    return rejecting(() => this.#n.set(key, value, o.format === undefined ? undefined : formatCode(o.format), o.ttl,
      flagsOf(o), o.timeout, o.tags, o.dependsOn));
  }

  /** Delete one key or an array of keys; resolves how many existed. */
  delete(keys, o = {}) {
    return this.#n.delete(Array.isArray(keys) ? keys : [keys], flagsOf(o), o.timeout);
  }

  exists(key, o = {}) {
    return this.#n.exists(key, flagsOf(o), o.timeout);
  }

  /** Remaining TTL in ms; null when the key never expires; undefined when it is missing. */
  ttl(key, o = {}) {
    return this.#n.ttl(key, flagsOf(o), o.timeout);
  }

  /** Add amount (default 1) atomically; a missing key starts at 0 and gets o.ttl. */
  increment(key, amount = 1, o = {}) {
    return this.#n.increment(key, amount, o.ttl, flagsOf(o), o.timeout);
  }

  /** Delete every key matching a Redis glob; resolves how many were deleted. */
  clearPattern(pattern, o = {}) {
    return this.#n.clearPattern(pattern, flagsOf(o), o.timeout);
  }

  /** Values of keys in one round trip, in order (undefined where missing). */
  getMany(keys, o = {}) {
    return this.#n.getMany(keyList(keys), flagsOf(o), o.timeout);
  }

  /** Store many values in one round trip: a Map, an object or [key, value] pairs. */
  setMany(entries, o = {}) {
    return rejecting(() => {
      const pairs = entries instanceof Map || Array.isArray(entries) ? [...entries] : Object.entries(entries);
      return this.#n.setMany(pairs.map((p) => p[0]), pairs.map((p) => p[1]),
        o.format === undefined ? undefined : formatCode(o.format), o.ttl, flagsOf(o), o.timeout, o.tags, o.dependsOn);
    });
  }

  /** Redis health: {healthy, latency_ms, version, ...} (healthy false rather than an error). */
  health(o = {}) {
    return this.#n.health(0, o.timeout);
  }

  /** The counters (l1, l2, decode_errors, ... and errorsAbsorbed). */
  stats() {
    return this.#n.stats();
  }

  /** Remove every entry written with one of tags (and their dependents); resolves how many. */
  invalidateTags(tags, o = {}) {
    return this.#n.invalidateTags(Array.isArray(tags) ? tags : [tags], flagsOf(o), o.timeout);
  }

  /** Fill this process's L1 from Redis with keys; resolves how many were found. */
  warm(keys, o = {}) {
    return this.#n.warm(keyList(keys), flagsOf(o), o.timeout);
  }

  /**
   * The value of key, loading it with `await loader(key)` when missing: one load per key
   * across callers, threads and processes (docs/read-through.md). The loader returns the
   * value, or undefined when the key does not exist (remembered for o.negativeTtl).
   */
  async getOrLoad(key, loader, o = {}) {
    const r = await this.#n.acquire(key, flagsOf(o), o.timeout, o);
    if (!r.lease) return r.value;
    if (r.refresh) {  // a fresh value: refresh it in the background
      this.#load(key, loader, r.lease, o).catch(() => {});
      return r.value;
    }
    try {
      return await this.#load(key, loader, r.lease, o);
    } catch (e) {
      if (r.stale && !REFUSED_VALUES.has(e)) return r.value;  // the reload failed: serve the stale value
      throw e;
    }
  }

  async #load(key, loader, lease, o) {
    let value;
    try {
      value = await loader(key);
    } catch (e) {
      lease.abandon(e instanceof Error ? e.message : String(e));
      throw e;
    }
    if (value === undefined) {
      await lease.fillNotFound().catch(() => {});
      return undefined;
    }
    try {
      const format = o.format === undefined ? undefined : formatCode(o.format);
      // Storing can fail only for a value the serializer refuses (a TypeError, thrown
      // before the lease is used) or in Redis (the waiters in this process still get it).
      await lease.fill(value, format, o.ttl).catch((e) => {
        if (e instanceof errors.CacheError) return;
        throw e;
      });
    } catch (e) {
      lease.abandon(e.message);
      REFUSED_VALUES.add(e);
      throw e;
    }
    return value;
  }

  /**
   * Acquire the distributed lock `name` for o.ttl ms (default 10000), waiting up to
   * o.wait ms (default 0: try once). Resolves a Lock; CacheTimeoutError when still held.
   */
  lock(name, o = {}) {
    return this.#n.lock(name, o.ttl ?? 10000, o.wait ?? 0, 0, o.timeout);
  }

  /** Close now; calls in flight settle, later calls reject with CacheClosedError. */
  close() {
    this.#n.close();
  }
}

module.exports = {
  Cache,
  ...errorClasses,
  ...values,
  version: native.version,
  /** The stored form of a value (for tools and golden vectors): see docs/envelope.md. */
  decodeEnvelope(envelope, namespace, key, keys = []) {
    return native.decodeEnvelope(envelope, namespace, key, keys.map((k, i) => [k.id, hexOrBytes(k.key), k.primary ?? i === 0]));
  },
  /** The value this package returns for stored bytes of a format; undefined when undecodable. */
  decodeValue(bytes, format, { floats = 'number' } = {}) {
    return native.decodeValue(bytes, formatCode(format), floats === 'Float64');
  },
};
