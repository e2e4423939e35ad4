// Compiled (not run) by test.sh with tsc --strict: the declarations in lib/index.d.ts
// accept the README's uses and reject a wrong one.
import { Cache, CacheError, CacheTimeoutError, Float64, Uuid, Lock, decodeValue } from '../lib/index';

async function uses(): Promise<void> {
  const cache = new Cache('redis://127.0.0.1:6379/0', { floats: 'Float64', encryptionKeys: [{ id: 1, key: '00' }] });
  await cache.set('k', { a: 1, b: [new Float64(1), new Uuid('00000000-0000-4000-8000-000000000001'), 2n, Buffer.from('x'), new Date()] },
    { ttl: 60_000, tags: ['t'], dependsOn: ['d'] });
  const value = await cache.get('k', { timeout: 100, skipL1: true });
  const deleted: number = await cache.delete(['a', 'b']);
  const ttl: number | null | undefined = await cache.ttl('k');
  const counter: number | bigint | null = await cache.increment('n', 5, { ttl: 1000 });
  const many = await cache.getMany(['a', 'b']);
  await cache.setMany({ a: 1 }, { ttl: 1 });
  const loaded = await cache.getOrLoad('p', async (key) => ({ key: String(key) }), { staleTtl: 1, negativeTtl: 1 });
  const lock: Lock = await cache.lock('n', { ttl: 1000, wait: 10 });
  await lock.extend(2000);
  await lock.release();
  const healthy: boolean = (await cache.health()).healthy;
  try {
    await cache.increment('x');
  } catch (e) {
    if (e instanceof CacheError) console.log(e.code, e.status, e instanceof CacheTimeoutError);
  }
  console.log(value, deleted, ttl, counter, many, loaded, healthy, decodeValue(Buffer.from([1]), 'msgpack'), cache.stats().errorsAbsorbed);
  // @ts-expect-error: a function is not a storable value
  await cache.set('k', () => 1);
  cache.close();
}
void uses;
