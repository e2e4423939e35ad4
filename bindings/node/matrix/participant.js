'use strict';
// The Node participant of the value matrix (tests/matrix/run_matrix.py):
//   participant.js write|read URL PREFIX LANG CASES_JSON [--key ID:HEX]
// write: every case through Cache.set in its format, key PREFIX:LANG:<name>, no TTL.
// read: every case through Cache.get; prints one JSON object {name: canonical TJ}.
const fs = require('node:fs');
const { Cache } = require('..');
const { toValue, fromValue } = require('./tj');

async function main(argv) {
  const [mode, url, prefix, lang, casesFile, ...rest] = argv;
  if (!['write', 'read'].includes(mode) || !casesFile) throw new Error('usage: write|read URL PREFIX LANG CASES_JSON [--key ID:HEX]');
  const encryptionKeys = [];
  const at = rest.indexOf('--key');
  if (at >= 0) {
    const [id, hex] = rest[at + 1].split(':');
    encryptionKeys.push({ id: Number(id), key: hex, primary: true });
  }
  const { cases } = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
  const cache = new Cache(url, { encryptionKeys, failSilently: false, floats: 'Float64' });
  const keyOf = (c) => `${prefix}:${lang}:${c.name}`;
  try {
    if (mode === 'write') {
      await Promise.all(cases.map((c) => cache.set(keyOf(c), toValue(c.value), { format: c.format, ttl: 0 })));
      return;
    }
    const values = await cache.getMany(cases.map(keyOf), { skipL1: true });
    const out = {};
    cases.forEach((c, i) => {
      if (values[i] === undefined) throw new Error(`${keyOf(c)}: missing`);
      out[c.name] = fromValue(values[i]);
    });
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    cache.close();
  }
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`node participant: ${e.name}: ${e.message}\n`);
  process.exit(1);
});
