'use strict';
// The error classes, and the one table mapping each library status to its class and
// code name. The addon makes every error through makeError.

class CacheError extends Error {
  /** @param {string} message @param {string} code @param {number} status */
  constructor(message, code = 'EINTERNAL', status = -10) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}
/** Redis is unreachable (L1 is still served). */
class CacheConnectionError extends CacheError {}
/** The call's deadline passed. */
class CacheTimeoutError extends CacheConnectionError {}
/** Redis refused the credentials (AUTH / ACL). */
class CacheAuthError extends CacheConnectionError {}
/** A bad URL, parameter or option, or a feature this build does not support. */
class CacheConfigError extends CacheError {}
/** An argument or value was refused (e.g. a key or value over a limit). */
class CacheValueError extends CacheError {}
/** The stored value has the wrong type (e.g. increment on a string). */
class CacheWrongTypeError extends CacheError {}
/** A read-through load failed (this call's, or the one it waited for), or its lease was lost. */
class CacheLoadError extends CacheError {}
/** The cache was closed. */
class CacheClosedError extends CacheError {}

// status -> [code, class]; statuses are pinned by the C ABI (stratacache.h).
const STATUSES = new Map([
  [-1, ['ENOTFOUND', CacheError]],
  [-2, ['EINVAL', CacheValueError]],
  [-3, ['EUNAVAILABLE', CacheConnectionError]],
  [-4, ['ETIMEDOUT', CacheTimeoutError]],
  [-5, ['ECORRUPT', CacheError]],
  [-6, ['ETOOBIG', CacheValueError]],
  [-7, ['EAUTH', CacheAuthError]],
  [-8, ['EWRONGTYPE', CacheWrongTypeError]],
  [-9, ['EUNSUPPORTED', CacheConfigError]],
  [-10, ['EINTERNAL', CacheError]],
  [-11, ['ENOMEM', CacheError]],
  [-12, ['ECLOSED', CacheClosedError]],
  [-13, ['EABORTED', CacheLoadError]],
  [-14, ['ELOADFAILED', CacheLoadError]],
]);

/** The error for a library status (an unknown status: CacheError with code EUNKNOWN). */
function makeError(status, message) {
  const [code, Class] = STATUSES.get(status) ?? ['EUNKNOWN', CacheError];
  return new Class(message, code, status);
}

module.exports = {
  CacheError,
  CacheConnectionError,
  CacheTimeoutError,
  CacheAuthError,
  CacheConfigError,
  CacheValueError,
  CacheWrongTypeError,
  CacheLoadError,
  CacheClosedError,
  makeError,
};
