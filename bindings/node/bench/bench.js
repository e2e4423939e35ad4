'use strict';
// L1 hit and L2 GET through this package, side by side in one run with the C ABI
// (bench/c_get.c, built here with pkg-config) and ioredis GET on the same redis-server.
// Every figure is the median of REPEATS runs; each run is ITERATIONS sequential calls
// (an `await` each: the latency of one call, not a throughput).
//   node bench/bench.js [ITERATIONS=200000] [REPEATS=7]
// Needs PKG_CONFIG_PATH / LD_LIBRARY_PATH naming the library, as test.sh does.
const { execFileSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const Redis = require('ioredis');
const { Cache } = require('..');
const { startRedis } = require('../test/redis');

const ITERATIONS = Number(process.argv[2] ?? 200000);
const REPEATS = Number(process.argv[3] ?? 7);
const L2_ITERATIONS = Math.floor(ITERATIONS / 20) + 1;
const KEY = 'bench:item';
const RAW_KEY = 'bench:raw';
const VALUE = { id: 42, name: 'widget', tags: ['a', 'b'], price: 9.5 };

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function perCall(n, call) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await call();
  return Number(process.hrtime.bigint() - t0) / n;
}

function buildC() {
  const out = path.join(os.tmpdir(), `stratacache-bench-c_get-${process.pid}`);
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'stratacache']).toString().trim().split(/\s+/);
  const libdir = execFileSync('pkg-config', ['--variable=libdir', 'stratacache']).toString().trim();
  execFileSync('cc', ['-O2', '-std=c11', '-o', out, path.join(__dirname, 'c_get.c'), ...flags, `-Wl,-rpath,${libdir}`]);
  return out;
}

async function main() {
  const redis = await startRedis();
  const cBin = buildC();
  try {
    const cache = new Cache(redis.url);
    await cache.set(KEY, VALUE, { ttl: 0 });
    await cache.set(RAW_KEY, Buffer.from(JSON.stringify(VALUE)), { ttl: 0 });
    const ioredis = new Redis(redis.port, '127.0.0.1');
    await ioredis.set('bench:plain', JSON.stringify(VALUE));

    const rows = { node_l1: [], node_l1_raw: [], node_l2: [], ioredis: [], c_l1: [], c_l1_raw: [], c_l2: [], c_l2q: [] };
    await perCall(ITERATIONS, () => cache.get(KEY));  // warm-up (JIT, L1 filled)
    await perCall(L2_ITERATIONS, () => ioredis.get('bench:plain'));
    for (let r = 0; r < REPEATS; r++) {
      rows.node_l1.push(await perCall(ITERATIONS, () => cache.get(KEY)));
      rows.node_l1_raw.push(await perCall(ITERATIONS, () => cache.get(RAW_KEY)));
      rows.node_l2.push(await perCall(L2_ITERATIONS, () => cache.get(KEY, { skipL1: true })) / 1000);
      rows.ioredis.push(await perCall(L2_ITERATIONS, () => ioredis.get('bench:plain')) / 1000);
      const c = JSON.parse(execFileSync(cBin, [redis.url, KEY, String(ITERATIONS), '1']).toString());
      rows.c_l1.push(c.l1_ns);
      rows.c_l2.push(c.l2_us);
      rows.c_l2q.push(c.l2_queued_us);
      rows.c_l1_raw.push(JSON.parse(execFileSync(cBin, [redis.url, RAW_KEY, String(ITERATIONS), '1']).toString()).l1_ns);
    }
    const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
    const row = (name, x, anchor, d) =>
      console.log(`| ${name.padEnd(48)} | ${x.toFixed(d).padStart(8)} | ${(x / anchor).toFixed(2).padStart(6)} |`);
    console.log(`stratacache-node ${require('..').version}, Node ${process.version}, ${os.cpus().length} CPUs,` +
      ` load average ${os.loadavg()[0].toFixed(1)}; medians of ${REPEATS} runs (L1: ${ITERATIONS} calls,` +
      ` L2: ${L2_ITERATIONS} calls per run); value ${JSON.stringify(VALUE)} (msgpack; raw: its JSON bytes)`);
    console.log(`| ${'operation'.padEnd(48)} | ${'median'.padStart(8)} | ${'vs C'.padStart(6)} |`);
    console.log(`|${'-'.repeat(50)}|${'-'.repeat(10)}|${'-'.repeat(8)}|`);
    row('L1 hit, C ABI stratacache_get, msgpack (ns)', m.c_l1, m.c_l1, 0);
    row('L1 hit, stratacache-node get, msgpack (ns)', m.node_l1, m.c_l1, 0);
    row('L1 hit, C ABI stratacache_get, raw (ns)', m.c_l1_raw, m.c_l1_raw, 0);
    row('L1 hit, stratacache-node get, raw Buffer (ns)', m.node_l1_raw, m.c_l1_raw, 0);
    row('L2 GET, C ABI stratacache_get, blocking (us)', m.c_l2, m.c_l2, 1);
    row('L2 GET, C ABI submit_get + poll + drain (us)', m.c_l2q, m.c_l2, 1);
    row('L2 GET, stratacache-node get skipL1 (us)', m.node_l2, m.c_l2, 1);
    row('L2 GET, ioredis 6 get (us)', m.ioredis, m.c_l2, 1);
    const spread = (k, d) => `${Math.min(...rows[k]).toFixed(d)}..${Math.max(...rows[k]).toFixed(d)}`;
    console.log(`spread (min..max): node L1 ${spread('node_l1', 0)} ns, C L1 ${spread('c_l1', 0)} ns,` +
      ` node L2 ${spread('node_l2', 1)} us, C L2 ${spread('c_l2', 1)} us, C L2 queued ${spread('c_l2q', 1)} us,` +
      ` ioredis ${spread('ioredis', 1)} us`);
    ioredis.disconnect();
    cache.close();
  } finally {
    require('node:fs').rmSync(cBin, { force: true });
    await redis.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
