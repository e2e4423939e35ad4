package io.stratacache;

/** How a value's bytes are to be read (STRATACACHE_FORMAT_*; stored in the envelope). */
public enum Format {
    /** Opaque bytes ({@code byte[]}). */
    RAW(0),
    /** UTF-8 JSON text: null, booleans, integers, finite floats, strings, lists and string-keyed maps. */
    JSON(1),
    /** One MessagePack object, with the shared ext types (docs/envelope.md). */
    MSGPACK(2);

    private final int code;

    Format(int code) {
        this.code = code;
    }

    /** The C ABI's STRATACACHE_FORMAT_* value. */
    public int code() {
        return code;
    }

    /** The format of a C ABI code. */
    public static Format of(int code) {
        switch (code) {
            case 0: return RAW;
            case 1: return JSON;
            case 2: return MSGPACK;
            default: throw new StrataCacheException.Unsupported(StrataCacheException.EUNSUPPORTED,
                    "unknown value format " + code);
        }
    }
}
