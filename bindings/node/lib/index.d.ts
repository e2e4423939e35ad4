// Types of the stratacache Node.js package (lib/index.js).

/** A key: a string (stored as UTF-8) or bytes. */
export type Key = string | Uint8Array;

/**
 * What a value may be: null, booleans, numbers (safe integers store as integers, other
 * numbers as float64), BigInt (64-bit), strings, Buffers, arrays, plain objects, Date and
 * the value classes below. undefined is stored as null in arrays and left out of objects.
 * Reads give integers outside +-(2^53 - 1) as BigInt.
 */
export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Date
  | Float64
  | Uuid
  | CalendarDate
  | Decimal
  | Value[]
  | { [key: string]: Value | undefined };

export type Format = 'msgpack' | 'json' | 'raw';

export interface CacheOptions {
  /** How non-Buffer values are stored (default: the URL's serializer parameter, else 'msgpack'). */
  serializer?: Format;
  /** Redis outages never reject (reads miss, writes reach L1, increment gives null); default true. */
  failSilently?: boolean;
  /** 'Float64': every float reads back as a Float64 (exact round trips); default 'number'. */
  floats?: 'number' | 'Float64';
  /** AES-256-GCM keys (32 bytes, hex or bytes); the primary one (default: the first) encrypts. */
  encryptionKeys?: { id: number; key: string | Uint8Array; primary?: boolean }[];
  /**
   * Open the process-wide cache of this name (one L1, one set of connections), shared
   * with every other language in the process that opens it; each handle closes on its own.
   */
  shared?: string;
}

export interface CallOptions {
  /** Deadline of this call in ms (default: the URL's socket_timeout). */
  timeout?: number;
  /** Neither read nor write the in-process L1. */
  skipL1?: boolean;
  /** Neither read nor write Redis. */
  skipL2?: boolean;
}

export interface WriteOptions extends CallOptions {
  /** Lifetime in ms; 0: never expires; default: the URL's default_ttl. */
  ttl?: number;
  /** Store in this format instead of the serializer (Buffers default to 'raw'). */
  format?: Format;
  /** invalidateTags of one of these removes the entry (docs/tags.md). */
  tags?: Key[];
  /** Writing, deleting or invalidating one of these keys removes the entry. */
  dependsOn?: Key[];
}

export interface LoadOptions extends CallOptions {
  /** Fresh period of a loaded value in ms (default: default_ttl). */
  ttl?: number;
  /** After ttl, serve the value this much longer when a reload fails or times out. */
  staleTtl?: number;
  /** How long "does not exist" (the loader returned undefined) is remembered. */
  negativeTtl?: number;
  /** XFetch beta (1: optimal): one caller reloads early, in the background. */
  earlyRefresh?: number;
  /** A caller holding a stale value waits at most this long for another caller's load. */
  softTimeout?: number;
  /** Lifetime of the Redis lease of a load (default max(10 s, 2 x timeout)). */
  leaseTtl?: number;
  /** false: one load per process instead of one in total. */
  lock?: boolean;
  /** Store the loaded value in this format. */
  format?: Format;
}

export interface LockOptions {
  /** Lock lifetime in ms (default 10000). */
  ttl?: number;
  /** Wait up to this many ms for the holder to let go (default 0: try once). */
  wait?: number;
  /** Deadline of each Redis round trip in ms. */
  timeout?: number;
}

export interface Lock {
  /** Strictly greater for every new holder of the name. */
  readonly fence: number | bigint;
  /** Set the remaining lifetime; rejects with CacheLoadError (EABORTED) when no longer held. */
  extend(ttl: number): Promise<void>;
  /** Release (only while still held); rejects with CacheLoadError (EABORTED) if it was lost. */
  release(): Promise<void>;
}

export interface Health {
  healthy: boolean;
  latency_ms: number;
  version: string;
  used_memory: string;
  connected_clients: number;
  uptime_seconds: number;
  error: string;
  coherence: string;
  coherence_up: boolean;
  coherence_channels: number;
  coherence_error: string;
}

export class Cache {
  constructor(url?: string, options?: CacheOptions);
  get(key: Key, options?: CallOptions): Promise<Value | undefined>;
  set(key: Key, value: Value, options?: WriteOptions): Promise<void>;
  delete(keys: Key | Key[], options?: CallOptions): Promise<number>;
  exists(key: Key, options?: CallOptions): Promise<boolean>;
  /** Remaining ms; null: never expires; undefined: missing. */
  ttl(key: Key, options?: CallOptions): Promise<number | null | undefined>;
  /** The new value; null when a Redis outage was absorbed (failSilently). */
  increment(key: Key, amount?: number | bigint, options?: CallOptions & { ttl?: number }): Promise<number | bigint | null>;
  clearPattern(pattern: Key, options?: CallOptions): Promise<number>;
  getMany(keys: Iterable<Key>, options?: CallOptions): Promise<(Value | undefined)[]>;
  setMany(entries: Map<Key, Value> | [Key, Value][] | Record<string, Value>, options?: WriteOptions): Promise<void>;
  health(options?: { timeout?: number }): Promise<Health>;
  stats(): Record<string, any> & { errorsAbsorbed: number };
  invalidateTags(tags: Key | Key[], options?: CallOptions): Promise<number>;
  warm(keys: Iterable<Key>, options?: CallOptions): Promise<number>;
  getOrLoad<T extends Value>(key: Key, loader: (key: Key) => T | undefined | Promise<T | undefined>,
    options?: LoadOptions): Promise<T | undefined>;
  lock(name: Key, options?: LockOptions): Promise<Lock>;
  close(): void;
}

export class Float64 {
  constructor(value: number);
  readonly value: number;
}
export class Uuid {
  constructor(text: string);
  readonly value: string;
}
export class CalendarDate {
  constructor(text: string);
  readonly value: string;
}
export class Decimal {
  constructor(text: string);
  readonly value: string;
}

export type ErrorCode =
  | 'ENOTFOUND' | 'EINVAL' | 'EUNAVAILABLE' | 'ETIMEDOUT' | 'ECORRUPT' | 'ETOOBIG' | 'EAUTH' | 'EWRONGTYPE'
  | 'EUNSUPPORTED' | 'EINTERNAL' | 'ENOMEM' | 'ECLOSED' | 'EABORTED' | 'ELOADFAILED' | 'EUNKNOWN';

export class CacheError extends Error {
  readonly code: ErrorCode;
  /** The library's STRATACACHE_E* value (negative). */
  readonly status: number;
}
export class CacheConnectionError extends CacheError {}
export class CacheTimeoutError extends CacheConnectionError {}
export class CacheAuthError extends CacheConnectionError {}
export class CacheConfigError extends CacheError {}
export class CacheValueError extends CacheError {}
export class CacheWrongTypeError extends CacheError {}
export class CacheLoadError extends CacheError {}
export class CacheClosedError extends CacheError {}

/** The version of the loaded libstratacache. */
export const version: string;
/** The stored form of a value (docs/envelope.md): payload and format, undefined for a negative entry. */
export function decodeEnvelope(envelope: Uint8Array, namespace: Key, key: Key,
  keys?: { id: number; key: string | Uint8Array }[]): { value: Buffer; format: number } | undefined;
/** The value this package returns for stored bytes of a format; undefined when undecodable. */
export function decodeValue(bytes: Uint8Array, format: Format, options?: { floats?: 'number' | 'Float64' }): Value | undefined;
