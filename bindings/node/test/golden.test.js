'use strict';
// The golden vectors (tests/golden/manifest.json): every `expect: ok` envelope decodes
// through this package to its payload and to the value of value_json / value_hex (the
// MessagePack and JSON decoders checked against each other and the manifest); every
// `expect: error` envelope fails with a CacheError of its code.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const sc = require('..');

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'tests', 'golden', 'manifest.json'), 'utf8'));
const FORMAT_NAMES = ['raw', 'json', 'msgpack'];
const ERROR_CODES = { data_loss: 'ECORRUPT', too_large: 'ETOOBIG', unsupported: 'EUNSUPPORTED' };

function keyRing(v) {
  return v.key_id === null ? [] : [{ id: v.key_id, key: v.key_hex }];
}

for (const v of manifest.vectors) {
  test(`golden ${v.name}`, () => {
    const decode = () => sc.decodeEnvelope(Buffer.from(v.hex, 'hex'), v.namespace, v.key, keyRing(v));
    if (v.expect === 'error') {
      assert.throws(decode, (e) => e instanceof sc.CacheError && e.code === ERROR_CODES[v.error]);
      return;
    }
    const out = decode();
    if (v.negative) {
      assert.equal(out, undefined, 'a negative marker decodes as "does not exist"');
      return;
    }
    assert.equal(FORMAT_NAMES[out.format], v.serializer);
    assert.equal(out.value.toString('hex'), v.payload_hex);
    const value = sc.decodeValue(out.value, v.serializer);
    if (v.value_hex !== undefined) {
      assert.deepEqual(value, Buffer.from(v.value_hex, 'hex'));
    } else {
      assert.notEqual(value, undefined, 'the payload decodes');
      assert.deepEqual(value, sc.decodeValue(Buffer.from(v.value_json), 'json'));
    }
  });
}

test('the manifest has both kinds of vectors', () => {
  assert.ok(manifest.vectors.some((v) => v.expect === 'ok' && v.serializer === 'msgpack'));
  assert.ok(manifest.vectors.some((v) => v.expect === 'error'));
});
