'use strict';
// The Cache API against a real redis-server: values round-trip through Redis (read
// back by a second Cache, whose L1 is empty), every operation's outcome, errors with
// codes, outages absorbed or reported, close with calls in flight, read-through, tags
// and locks.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const sc = require('..');
const { Cache, Float64, Uuid, CalendarDate, Decimal } = sc;
const { startRedis } = require('./redis');

let redis;
before(async () => { redis = await startRedis(); });
after(async () => { await redis.stop(); });

// A fresh cache's L1 takes values only once its coherence channel is up, and waiters in
// another cache are woken through it (docs/coherence.md, docs/read-through.md): tests
// that count on either wait for it, as a long-running process has it.
async function coherent(...caches) {
  const deadline = Date.now() + 5000;
  for (const c of caches) {
    while (!(await c.health()).coherence_up && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
}

let n = 0;
const fresh = () => `t${process.pid}:${++n}`;

test('values round-trip through Redis as their own types (MessagePack)', async () => {
  const writer = new Cache(redis.url);
  const reader = new Cache(redis.url);
  const key = fresh();
  const value = {
    int: 42, neg: -7, float: 1.5, str: 'Zoë', nil: null, yes: true, list: [1, 'two', [3]],
    maxInt64: 2n ** 63n - 1n, minInt64: -(2n ** 63n), maxUint64: 2n ** 64n - 1n, safe: 2 ** 53 - 1,
    bytes: Buffer.from([0, 1, 255]), when: new Date('2026-11-25T12:34:56.789+02:00'),
    id: new Uuid('1B4E28BA-2FA1-11D2-883F-0016D3CCA427'), day: new CalendarDate('2026-11-25'), price: new Decimal('12.50'),
  };
  await writer.set(key, value);
  const got = await reader.get(key, { skipL1: true });
  assert.deepEqual(got, { ...value, id: new Uuid('1b4e28ba-2fa1-11d2-883f-0016d3cca427') });
  assert.equal(typeof got.maxInt64, 'bigint');
  assert.equal(typeof got.safe, 'number');
  writer.close();
  reader.close();
});

test('Float64 keeps integral floats as floats; floats: "Float64" reads every float that way', async () => {
  const c = new Cache(redis.url);
  const exact = new Cache(redis.url, { floats: 'Float64' });
  for (const format of ['msgpack', 'json']) {
    const key = fresh();
    await c.set(key, [new Float64(1), 1, new Float64(-0), 2.5], { format });
    assert.deepEqual(await c.get(key, { skipL1: true }), [1, 1, -0, 2.5]);
    const got = await exact.get(key, { skipL1: true });
    assert.ok(got[0] instanceof Float64 && got[0].value === 1, format);
    assert.equal(got[1], 1);
    assert.ok(Object.is(got[2].value, -0), format);
    assert.equal(got[3].value, 2.5);
  }
  c.close();
  exact.close();
});

test('JSON keeps 64-bit integers exact and writes the shared types as strings', async () => {
  const c = new Cache(redis.url, { serializer: 'json' });
  const key = fresh();
  await c.set(key, { big: 2n ** 64n - 1n, neg: -(2n ** 63n), id: new Uuid('1b4e28ba-2fa1-11d2-883f-0016d3cca427'), s: 'a"\n' });
  assert.deepEqual(await c.get(key, { skipL1: true }),
    { big: 2n ** 64n - 1n, neg: -(2n ** 63n), id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', s: 'a"\n' });
  await assert.rejects(c.set(fresh(), { b: Buffer.from('x') }), TypeError);
  await assert.rejects(c.set(fresh(), NaN), TypeError);
  c.close();
});

test('Buffers are stored raw and read back as Buffers', async () => {
  const c = new Cache(redis.url);
  const key = fresh();
  await c.set(key, Buffer.from([0, 255, 10]));
  assert.deepEqual(await c.get(key, { skipL1: true }), Buffer.from([0, 255, 10]));
  await assert.rejects(c.set(fresh(), 'text', { format: 'raw' }), TypeError);
  await assert.rejects(c.set(fresh(), 'text', { format: 'yaml' }), sc.CacheConfigError);
  c.close();
});

test('values a format cannot hold are refused and nothing is stored', async () => {
  const c = new Cache(redis.url);
  const key = fresh();
  await assert.rejects(c.set(key, () => 1), TypeError);
  await assert.rejects(c.set(key, { s: Symbol('x') }), TypeError);
  await assert.rejects(c.set(key, 2n ** 64n), RangeError);
  assert.equal(await c.exists(key), false);
  c.close();
});

test('get, exists, ttl, delete, increment, clearPattern', async () => {
  const c = new Cache(redis.url);
  const key = fresh();
  assert.equal(await c.get(key), undefined);
  assert.equal(await c.ttl(key), undefined);
  await c.set(key, 'v', { ttl: 60000 });
  assert.equal(await c.get(key), 'v');
  assert.equal(await c.exists(key), true);
  const ttl = await c.ttl(key);
  assert.ok(ttl > 50000 && ttl <= 60000, `ttl ${ttl}`);
  await c.set(key, 'forever', { ttl: 0 });
  assert.equal(await c.ttl(key), null);
  assert.equal(await c.delete([key, fresh()]), 1);
  assert.equal(await c.exists(key), false);
  const counter = fresh();
  assert.equal(await c.increment(counter), 1);
  assert.equal(await c.increment(counter, 41), 42);
  assert.equal(await c.increment(counter, -50), -8);
  assert.equal(await c.increment(counter, 10n), 2);
  await assert.rejects(c.increment(counter, 1.5), TypeError);
  await assert.rejects(c.increment(counter, '1'), TypeError);
  const prefix = `cp${process.pid}:`;
  await c.setMany([[`${prefix}a`, 1], [`${prefix}b`, 2], [`other${process.pid}`, 3]]);
  assert.equal(await c.clearPattern(`${prefix}*`), 2);
  assert.deepEqual(await c.getMany([`${prefix}a`, `other${process.pid}`]), [undefined, 3]);
  c.close();
});

test('getMany and setMany keep order, with undefined for missing keys', async () => {
  const c = new Cache(redis.url);
  const [a, b, missing] = [fresh(), fresh(), fresh()];
  await c.setMany(new Map([[a, { x: 1 }], [b, Buffer.from('raw')]]), { ttl: 30000 });
  const reader = new Cache(redis.url);
  assert.deepEqual(await reader.getMany([a, missing, b], { skipL1: true }), [{ x: 1 }, undefined, Buffer.from('raw')]);
  const ttl = await c.ttl(a);
  assert.ok(ttl > 20000 && ttl <= 30000);
  c.close();
  reader.close();
});

test('errors are CacheError subclasses with a code', async () => {
  const c = new Cache(redis.url);
  const key = fresh();
  await c.set(key, 'not a number');
  await assert.rejects(c.increment(key), (e) => e instanceof sc.CacheWrongTypeError && e instanceof sc.CacheError &&
    e.code === 'EWRONGTYPE' && e.status === -8);
  await assert.rejects(c.get('k'.repeat(5000)), (e) => e instanceof sc.CacheValueError && e.code === 'EINVAL');
  assert.throws(() => new Cache('redis://127.0.0.1:1/0?no_such_parameter=1'),
    (e) => e instanceof sc.CacheConfigError && /no_such_parameter/.test(e.message));
  assert.throws(() => new Cache('redis://127.0.0.1:1/0', { serializer: 'yaml' }), sc.CacheConfigError);
  c.close();
});

test('a corrupt value in Redis is a miss', async () => {
  const c = new Cache(redis.url);
  const key = fresh();
  redis.cli('SET', key, 'not an envelope');
  assert.equal(await c.get(key), undefined);
  c.close();
});

test('encrypted values read back only with the key', async () => {
  const keyHex = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
  const secret = new Cache(redis.url, { encryptionKeys: [{ id: 7, key: keyHex }] });
  const plain = new Cache(redis.url);
  const key = fresh();
  await secret.set(key, { card: '4111' });
  assert.equal(await plain.get(key), undefined);
  const again = new Cache(redis.url, { encryptionKeys: [{ id: 7, key: Buffer.from(keyHex, 'hex') }] });
  assert.deepEqual(await again.get(key), { card: '4111' });
  assert.throws(() => new Cache(redis.url, { encryptionKeys: [{ id: 1, key: 'abcd' }] }), sc.CacheConfigError);
  for (const x of [secret, plain, again]) x.close();
});

test('a Redis outage degrades to L1 (fail silently) or rejects with CacheConnectionError', async () => {
  const down = await startRedis();
  // Without coherence, so the L1 copy outlives the connection (docs/coherence.md).
  const silent = new Cache(`${down.url}?socket_timeout=0.5&l1_coherence=off`);
  const strict = new Cache(`${down.url}?socket_timeout=0.5`, { failSilently: false });
  const key = fresh();
  await silent.set(key, 'kept in L1');
  await down.stop();
  assert.equal(await silent.get(key), 'kept in L1');
  assert.equal(await silent.get(fresh()), undefined);
  await silent.set(fresh(), 'L1 only');
  assert.equal(await silent.increment(fresh()), null);
  assert.ok(silent.stats().errorsAbsorbed >= 3);
  assert.equal((await silent.health()).healthy, false);
  await assert.rejects(strict.get(fresh()), (e) => e instanceof sc.CacheConnectionError && ['EUNAVAILABLE', 'ETIMEDOUT'].includes(e.code));
  silent.close();
  strict.close();
});

test('close settles the calls in flight; later calls reject with CacheClosedError', async () => {
  const c = new Cache(redis.url, { failSilently: false });
  const pending = [];
  for (let i = 0; i < 200; i++) pending.push(c.get(fresh(), { skipL1: true }));
  c.close();
  const outcomes = await Promise.allSettled(pending);
  assert.equal(outcomes.length, 200);
  for (const o of outcomes) {
    if (o.status === 'rejected') assert.ok(o.reason instanceof sc.CacheError, String(o.reason));
    else assert.equal(o.value, undefined);
  }
  await assert.rejects(c.get('k'), (e) => e instanceof sc.CacheClosedError && e.code === 'ECLOSED');
  await assert.rejects(c.set('k', 1), sc.CacheClosedError);
  c.close();  // a second close is a no-op
});

test('an idle cache does not keep the process alive', () => {
  const script = `const { Cache } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const c = new Cache(${JSON.stringify(redis.url)});
    c.set('exit-check', 1).then(() => c.get('exit-check', { skipL1: true })).then((v) => { process.stdout.write(String(v)); });`;
  const r = spawnSync(process.execPath, ['-e', script], { timeout: 20000 });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(r.stdout.toString(), '1');
});

test('health and stats', async () => {
  const c = new Cache(redis.url);
  await coherent(c);
  const h = await c.health();
  assert.equal(h.healthy, true);
  assert.match(h.version, /^\d+\./);
  const key = fresh();
  await c.set(key, 1);
  const before = c.stats().l1;
  await c.get(key);
  assert.equal(c.stats().l1.hits, before.hits + 1);
  await c.get(fresh());  // the L1 probe and the submitted read
  assert.equal(c.stats().l1.misses, before.misses + 2);
  c.close();
});

test('getOrLoad: one load for concurrent callers across caches; undefined means missing', async () => {
  const a = new Cache(redis.url);
  const b = new Cache(redis.url);
  await coherent(a, b);
  const key = fresh();
  let loads = 0;
  const loader = async (k) => {
    loads++;
    await new Promise((r) => setTimeout(r, 100));
    return { loaded: k };
  };
  const got = await Promise.all([a, b, a, b].map((c) => c.getOrLoad(key, loader, { ttl: 60000 })));
  assert.equal(loads, 1);
  for (const v of got) assert.deepEqual(v, { loaded: key });
  const other = new Cache(redis.url);
  assert.deepEqual(await other.get(key), { loaded: key });
  const bytesKey = fresh();
  assert.deepEqual(await a.getOrLoad(bytesKey, async () => Buffer.from([1, 2])), Buffer.from([1, 2]));
  assert.deepEqual(await other.get(bytesKey, { skipL1: true }), Buffer.from([1, 2]));
  other.close();

  const missing = fresh();
  let asked = 0;
  const none = async () => { asked++; return undefined; };
  assert.equal(await a.getOrLoad(missing, none, { negativeTtl: 60000 }), undefined);
  assert.equal(await a.getOrLoad(missing, none, { negativeTtl: 60000 }), undefined);
  assert.equal(asked, 1);
  a.close();
  b.close();
});

test('getOrLoad: a failing loader rejects with its error; a stale value is served instead', async () => {
  const c = new Cache(redis.url);
  const key = fresh();
  const boom = new Error('database down');
  await assert.rejects(c.getOrLoad(key, async () => { throw boom; }), (e) => e === boom);
  assert.equal(await c.getOrLoad(key, async () => 'v1', { ttl: 50, staleTtl: 60000 }), 'v1');
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(await c.getOrLoad(key, async () => { throw boom; }, { ttl: 50, staleTtl: 60000 }), 'v1');
  await assert.rejects(c.getOrLoad(fresh(), async () => () => 1), TypeError);
  c.close();
});

test('getOrLoad: callers waiting for a load that fails get CacheLoadError with its message', async () => {
  const a = new Cache(redis.url);
  const key = fresh();
  const failing = async () => {
    await new Promise((r) => setTimeout(r, 100));
    throw new Error('database down');
  };
  let loads = 0;
  const counted = () => { loads++; return failing(); };
  const outcomes = await Promise.allSettled([a.getOrLoad(key, counted), a.getOrLoad(key, counted)]);
  assert.equal(loads, 1);
  assert.ok(outcomes.every((o) => o.status === 'rejected'));
  const reasons = outcomes.map((o) => o.reason);
  assert.equal(reasons.filter((e) => e instanceof sc.CacheLoadError).length, 1, String(reasons));
  assert.ok(reasons.every((e) => /database down/.test(e.message)));
  a.close();
});

test('MessagePack bytes that do not decode are a miss, never an exception', () => {
  for (const hex of ['c1', 'dc0005', 'a5616263', '0101', 'd40900', 'c7', '9201']) {
    assert.equal(sc.decodeValue(Buffer.from(hex, 'hex'), 'msgpack'), undefined, hex);
  }
  assert.deepEqual(sc.decodeValue(Buffer.from('93c0c3a178', 'hex'), 'msgpack'), [null, true, 'x']);
  assert.equal(sc.decodeValue(Buffer.from('{"a":', 'utf8'), 'json'), undefined);
});

test('invalidateTags removes the tagged entries', async () => {
  const c = new Cache(redis.url);
  const [x, y, z] = [fresh(), fresh(), fresh()];
  const tag = `user:${process.pid}`;
  await c.set(x, 1, { tags: [tag] });
  await c.setMany([[y, 2]], { tags: [tag] });
  await c.set(z, 3);
  assert.equal(await c.invalidateTags(tag), 2);
  assert.deepEqual(await c.getMany([x, y, z]), [undefined, undefined, 3]);
  c.close();
});

test('warm fills L1 from Redis', async () => {
  const writer = new Cache(redis.url);
  const [x, y, missing] = [fresh(), fresh(), fresh()];
  await writer.setMany([[x, 'vx'], [y, 'vy']]);
  const c = new Cache(redis.url);
  await coherent(c);
  assert.equal(await c.warm([x, y, missing]), 2);
  const hits = c.stats().l1.hits;
  assert.deepEqual([await c.get(x), await c.get(y)], ['vx', 'vy']);
  assert.equal(c.stats().l1.hits, hits + 2);
  writer.close();
  c.close();
});

test('dependsOn: writing a dependency removes the dependent entry', async () => {
  const c = new Cache(redis.url);
  const [base, derived] = [fresh(), fresh()];
  await c.set(base, 1);
  await c.set(derived, 'from base', { dependsOn: [base] });
  await c.set(base, 2);
  assert.equal(await c.get(derived), undefined);
  c.close();
});

test('lock: exclusive, fenced, released', async () => {
  const a = new Cache(redis.url);
  const b = new Cache(redis.url);
  const name = fresh();
  const first = await a.lock(name, { ttl: 10000 });
  await assert.rejects(b.lock(name, { ttl: 10000 }), sc.CacheTimeoutError);
  await first.extend(20000);
  await first.release();
  const second = await b.lock(name, { ttl: 10000, wait: 1000 });
  assert.ok(second.fence > first.fence);
  await second.release();
  a.close();
  b.close();
});

test('shared: two handles on one name are one cache and close on their own', async () => {
  const a = new Cache('mem://', { shared: 'node-shared-test' });
  const b = new Cache('mem://', { shared: 'node-shared-test' });
  await a.set('k', 'v');
  // mem:// has no Redis: only one shared L1 lets b see a's write.
  assert.equal(await b.get('k'), 'v');
  assert.throws(() => new Cache('mem://?l1_max_entries=5', { shared: 'node-shared-test' }),
    (e) => e instanceof sc.CacheConfigError && e.message.includes('node-shared-test'));
  assert.throws(() => new Cache('mem://', { shared: '' }), sc.CacheConfigError);
  await a.close();
  await assert.rejects(a.get('k'), sc.CacheClosedError);
  assert.equal(await b.get('k'), 'v');
  await b.close();
  const c = new Cache('mem://', { shared: 'node-shared-test' });
  assert.equal(await c.get('k'), undefined, 'after the last close the name opens a new cache');
  await c.close();
});
