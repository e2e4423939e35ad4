package io.stratacache;

/**
 * A failed stratacache call: {@link #code()} is the C ABI's STRATACACHE_E* code (pinned
 * values, see {@link #of}); the message is the library's. A cache miss is never an
 * exception (reads answer {@code null} or {@code Optional.empty()}). Subclasses name the
 * codes callers act on: retry later ({@link Unavailable}, {@link Timeout}), fix the call
 * ({@link InvalidArgument}, {@link TooBig}, {@link WrongType}, {@link Unsupported}),
 * configuration ({@link Auth}), lifecycle ({@link Closed}), read-through
 * ({@link LoadFailed}, {@link Aborted}).
 */
public class StrataCacheException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public static final int EINVAL = -2;
    public static final int EUNAVAILABLE = -3;
    public static final int ETIMEDOUT = -4;
    public static final int ECORRUPT = -5;
    public static final int ETOOBIG = -6;
    public static final int EAUTH = -7;
    public static final int EWRONGTYPE = -8;
    public static final int EUNSUPPORTED = -9;
    public static final int EINTERNAL = -10;
    public static final int ENOMEM = -11;
    public static final int ECLOSED = -12;
    public static final int EABORTED = -13;
    public static final int ELOADFAILED = -14;

    private final int code;

    public StrataCacheException(int code, String message) {
        super(message);
        this.code = code;
    }

    /** The STRATACACHE_E* code (negative). */
    public int code() {
        return code;
    }

    /** The exception for a code and the library's message (the static description when empty). */
    public static StrataCacheException of(int code, String message) {
        if (message == null || message.isEmpty()) {
            message = NativeApi.stratacache_strerror(code).getString(0);
        }
        switch (code) {
            case EINVAL: return new InvalidArgument(code, message);
            case EUNAVAILABLE: return new Unavailable(code, message);
            case ETIMEDOUT: return new Timeout(code, message);
            case ECORRUPT: return new Corrupt(code, message);
            case ETOOBIG: return new TooBig(code, message);
            case EAUTH: return new Auth(code, message);
            case EWRONGTYPE: return new WrongType(code, message);
            case EUNSUPPORTED: return new Unsupported(code, message);
            case ECLOSED: return new Closed(code, message);
            case EABORTED: return new Aborted(code, message);
            case ELOADFAILED: return new LoadFailed(code, message);
            default: return new StrataCacheException(code, message);
        }
    }

    /** Bad argument, URL or parameter; the message names it. */
    public static final class InvalidArgument extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        InvalidArgument(int code, String message) { super(code, message); }
    }

    /** Redis unreachable (L1 is still served); retry later. */
    public static final class Unavailable extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        Unavailable(int code, String message) { super(code, message); }
    }

    /** The call's deadline passed. */
    public static final class Timeout extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        Timeout(int code, String message) { super(code, message); }
    }

    /** Stored data unreadable (an envelope that fails to decode; cache reads report a miss instead). */
    public static final class Corrupt extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        Corrupt(int code, String message) { super(code, message); }
    }

    /** A value or reply over a configured limit. */
    public static final class TooBig extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        TooBig(int code, String message) { super(code, message); }
    }

    /** AUTH / ACL refused. */
    public static final class Auth extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        Auth(int code, String message) { super(code, message); }
    }

    /** The stored value has the wrong type for the call (e.g. increment on text). */
    public static final class WrongType extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        WrongType(int code, String message) { super(code, message); }
    }

    /** Not supported by this build or configuration. */
    public static final class Unsupported extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        Unsupported(int code, String message) { super(code, message); }
    }

    /** The cache was closed. */
    public static final class Closed extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        Closed(int code, String message) { super(code, message); }
    }

    /** A read-through lease expired or was taken over. */
    public static final class Aborted extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        Aborted(int code, String message) { super(code, message); }
    }

    /** A read-through loader failed (this call's, or the one it waited for). */
    public static final class LoadFailed extends StrataCacheException {
        private static final long serialVersionUID = 1L;
        LoadFailed(int code, String message) { super(code, message); }
    }
}
