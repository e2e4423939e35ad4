package io.stratacache;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * A value read from the cache: its stored bytes and their {@link Format}.
 * {@link #decode()} turns them into Java objects ({@link ValueCodec} says which).
 */
public final class Value {
    private final Format format;
    private final byte[] bytes;

    public Value(Format format, byte[] bytes) {
        this.format = Objects.requireNonNull(format, "format");
        this.bytes = Objects.requireNonNull(bytes, "bytes");
    }

    public Format format() {
        return format;
    }

    /** The stored bytes (serialized MessagePack / JSON text / raw bytes); not a copy. */
    public byte[] bytes() {
        return bytes;
    }

    /** The bytes as UTF-8 text (JSON values are text). */
    public String text() {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** The decoded value: {@code byte[]} for RAW, Java objects for JSON and MessagePack. */
    public Object decode() {
        return ValueCodec.decode(format, bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Value && ((Value) o).format == format && Arrays.equals(((Value) o).bytes, bytes);
    }

    @Override
    public int hashCode() {
        return 31 * format.hashCode() + Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "Value(" + format + ", " + bytes.length + " bytes)";
    }
}
