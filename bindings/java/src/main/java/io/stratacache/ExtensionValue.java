package io.stratacache;

import java.util.Arrays;

/** A MessagePack ext value of a type this package has no Java type for (kept as type + data). */
public final class ExtensionValue {
    private final byte type;
    private final byte[] data;

    public ExtensionValue(byte type, byte[] data) {
        this.type = type;
        this.data = data.clone();
    }

    public byte type() {
        return type;
    }

    public byte[] data() {
        return data.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ExtensionValue && ((ExtensionValue) o).type == type
                && Arrays.equals(((ExtensionValue) o).data, data);
    }

    @Override
    public int hashCode() {
        return 31 * type + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "ExtensionValue(" + type + ", " + data.length + " bytes)";
    }
}
