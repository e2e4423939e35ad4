package io.stratacache;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.msgpack.core.ExtensionTypeHeader;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessageFormat;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;

/**
 * Java objects to and from the stored formats, the same values every stratacache
 * language reads and writes (docs/envelope.md, "Shared MessagePack ext types").
 *
 * <table>
 * <caption>Java types</caption>
 * <tr><th>value</th><th>written from</th><th>read as</th></tr>
 * <tr><td>nil / null</td><td>{@code null}</td><td>{@code null}</td></tr>
 * <tr><td>boolean</td><td>{@code Boolean}</td><td>{@code Boolean}</td></tr>
 * <tr><td>integer (int64 and uint64)</td><td>{@code Byte, Short, Integer, Long, BigInteger}</td>
 *     <td>{@code Long}; {@code BigInteger} above {@code Long.MAX_VALUE}</td></tr>
 * <tr><td>float (always float64)</td><td>{@code Float, Double} (finite)</td><td>{@code Double}</td></tr>
 * <tr><td>string</td><td>{@code String}</td><td>{@code String}</td></tr>
 * <tr><td>bytes (MessagePack bin)</td><td>{@code byte[]}</td><td>{@code byte[]}</td></tr>
 * <tr><td>array</td><td>{@code Collection}, {@code Object[]}</td><td>{@code List}</td></tr>
 * <tr><td>map (string keys)</td><td>{@code Map}</td><td>{@code LinkedHashMap}</td></tr>
 * <tr><td>ext 1 date-time</td><td>{@code OffsetDateTime, ZonedDateTime, Instant} (UTC),
 *     {@code LocalDateTime} (no offset)</td><td>{@code OffsetDateTime}, or {@code LocalDateTime}
 *     when the text has no offset</td></tr>
 * <tr><td>ext 2 date</td><td>{@code LocalDate}</td><td>{@code LocalDate}</td></tr>
 * <tr><td>ext 3 UUID</td><td>{@code UUID}</td><td>{@code UUID}</td></tr>
 * <tr><td>ext 4 decimal</td><td>{@code BigDecimal}</td><td>{@code BigDecimal}</td></tr>
 * <tr><td>other ext</td><td>{@link ExtensionValue}</td><td>{@link ExtensionValue}</td></tr>
 * </table>
 *
 * JSON holds only null, booleans, integers, finite floats, strings, lists and maps; other
 * types are refused ({@link StrataCacheException.InvalidArgument}). Undecodable bytes are
 * {@link StrataCacheException.Corrupt}. RAW values are {@code byte[]} as they are.
 */
public final class ValueCodec {
    private ValueCodec() {}

    public static final byte EXT_DATETIME = 1;
    public static final byte EXT_DATE = 2;
    public static final byte EXT_UUID = 3;
    public static final byte EXT_DECIMAL = 4;

    private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** The stored bytes of {@code value} in {@code format} (RAW takes only {@code byte[]}). */
    public static byte[] encode(Object value, Format format) {
        switch (format) {
            case RAW:
                if (value instanceof byte[]) {
                    return (byte[]) value;
                }
                throw invalid("a RAW value is a byte[], not " + typeName(value));
            case JSON:
                checkJson(value);
                try {
                    return JSON.writeValueAsBytes(value);
                } catch (JsonProcessingException e) {
                    throw invalid("cannot write JSON: " + e.getOriginalMessage());
                }
            default:
                try (MessageBufferPacker packer = MessagePack.newDefaultBufferPacker()) {
                    pack(packer, value);
                    return packer.toByteArray();
                } catch (IOException e) {
                    throw new StrataCacheException(StrataCacheException.EINTERNAL, e.toString());
                }
        }
    }

    /** The Java value of stored bytes in {@code format}. */
    public static Object decode(Format format, byte[] bytes) {
        switch (format) {
            case RAW:
                return bytes;
            case JSON:
                try {
                    return fromTree(JSON.readTree(bytes));
                } catch (IOException e) {
                    throw new StrataCacheException.Corrupt(StrataCacheException.ECORRUPT,
                            "stored JSON unreadable: " + e.getMessage());
                }
            default:
                try (MessageUnpacker unpacker = MessagePack.newDefaultUnpacker(bytes)) {
                    Object value = unpack(unpacker);
                    if (unpacker.hasNext()) {
                        throw new IOException("bytes after the MessagePack object");
                    }
                    return value;
                } catch (IOException | RuntimeException e) {
                    if (e instanceof StrataCacheException) {
                        throw (StrataCacheException) e;
                    }
                    throw new StrataCacheException.Corrupt(StrataCacheException.ECORRUPT,
                            "stored MessagePack unreadable: " + e.getMessage());
                }
        }
    }

    /** JSON text of a value (the JSON format's bytes as a string). */
    static String toJsonText(Object value) {
        return new String(encode(value, Format.JSON), StandardCharsets.UTF_8);
    }

    /** The Java value of JSON text (integers as Long / BigInteger, floats as Double). */
    public static Object parseJson(String text) {
        return decode(Format.JSON, text.getBytes(StandardCharsets.UTF_8));
    }

    /** A JSON tree as Java values: integers Long (BigInteger past its range), floats Double. */
    private static Object fromTree(JsonNode n) throws IOException {
        if (n == null || n.isMissingNode()) {
            throw new IOException("no JSON value");
        }
        switch (n.getNodeType()) {
            case NULL:
                return null;
            case BOOLEAN:
                return n.booleanValue();
            case STRING:
                return n.textValue();
            case NUMBER:
                if (n.isIntegralNumber()) {
                    return n.canConvertToLong() ? (Object) n.longValue() : n.bigIntegerValue();
                }
                return n.doubleValue();
            case ARRAY: {
                List<Object> list = new ArrayList<>(n.size());
                for (JsonNode e : n) {
                    list.add(fromTree(e));
                }
                return list;
            }
            case OBJECT: {
                Map<Object, Object> map = new LinkedHashMap<>();
                for (Map.Entry<String, JsonNode> e : n.properties()) {
                    map.put(e.getKey(), fromTree(e.getValue()));
                }
                return map;
            }
            default:
                throw new IOException("not a JSON value: " + n.getNodeType());
        }
    }

    private static void pack(MessageBufferPacker p, Object v) throws IOException {
        if (v == null) {
            p.packNil();
        } else if (v instanceof Boolean) {
            p.packBoolean((Boolean) v);
        } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            p.packLong(((Number) v).longValue());
        } else if (v instanceof BigInteger) {
            BigInteger b = checkInteger((BigInteger) v);
            if (b.bitLength() < 64) {
                p.packLong(b.longValue());
            } else {
                p.packBigInteger(b);
            }
        } else if (v instanceof Double || v instanceof Float) {
            p.packDouble(checkFinite(((Number) v).doubleValue()));
        } else if (v instanceof String) {
            p.packString((String) v);
        } else if (v instanceof byte[]) {
            byte[] b = (byte[]) v;
            p.packBinaryHeader(b.length);
            p.writePayload(b);
        } else if (v instanceof Map) {
            Map<?, ?> m = (Map<?, ?>) v;
            p.packMapHeader(m.size());
            for (Map.Entry<?, ?> e : m.entrySet()) {
                p.packString(mapKey(e.getKey()));
                pack(p, e.getValue());
            }
        } else if (v instanceof Collection || v instanceof Object[]) {
            Collection<?> c = v instanceof Collection ? (Collection<?>) v : List.of((Object[]) v);
            p.packArrayHeader(c.size());
            for (Object o : c) {
                pack(p, o);
            }
        } else if (v instanceof OffsetDateTime || v instanceof ZonedDateTime || v instanceof Instant
                || v instanceof LocalDateTime) {
            ext(p, EXT_DATETIME, dateTimeText(v).getBytes(StandardCharsets.UTF_8));
        } else if (v instanceof LocalDate) {
            ext(p, EXT_DATE, v.toString().getBytes(StandardCharsets.UTF_8));
        } else if (v instanceof UUID) {
            UUID u = (UUID) v;
            ext(p, EXT_UUID, ByteBuffer.allocate(16).putLong(u.getMostSignificantBits())
                    .putLong(u.getLeastSignificantBits()).array());
        } else if (v instanceof BigDecimal) {
            ext(p, EXT_DECIMAL, v.toString().getBytes(StandardCharsets.UTF_8));
        } else if (v instanceof ExtensionValue) {
            ext(p, ((ExtensionValue) v).type(), ((ExtensionValue) v).data());
        } else {
            throw invalid("no MessagePack form for " + typeName(v));
        }
    }

    private static void ext(MessageBufferPacker p, byte type, byte[] data) throws IOException {
        p.packExtensionTypeHeader(type, data.length);
        p.writePayload(data);
    }

    /** ISO-8601 date-time text: seconds always written, the offset when the type has one. */
    static String dateTimeText(Object v) {
        if (v instanceof LocalDateTime) {
            return DateTimeFormatter.ISO_LOCAL_DATE_TIME.format((LocalDateTime) v);
        }
        OffsetDateTime t = v instanceof OffsetDateTime ? (OffsetDateTime) v
                : v instanceof ZonedDateTime ? ((ZonedDateTime) v).toOffsetDateTime()
                : ((Instant) v).atOffset(ZoneOffset.UTC);
        return DateTimeFormatter.ISO_OFFSET_DATE_TIME.format(t);
    }

    private static Object unpack(MessageUnpacker u) throws IOException {
        MessageFormat f = u.getNextFormat();
        switch (f.getValueType()) {
            case NIL:
                u.unpackNil();
                return null;
            case BOOLEAN:
                return u.unpackBoolean();
            case INTEGER:
                if (f == MessageFormat.UINT64) {
                    BigInteger b = u.unpackBigInteger();
                    return b.bitLength() < 64 ? (Object) b.longValue() : b;
                }
                return u.unpackLong();
            case FLOAT:
                return u.unpackDouble();
            case STRING:
                return u.unpackString();
            case BINARY:
                return u.readPayload(u.unpackBinaryHeader());
            case ARRAY: {
                int n = u.unpackArrayHeader();
                List<Object> list = new ArrayList<>(Math.min(n, 1 << 16));
                for (int i = 0; i < n; i++) {
                    list.add(unpack(u));
                }
                return list;
            }
            case MAP: {
                int n = u.unpackMapHeader();
                Map<Object, Object> map = new LinkedHashMap<>();
                for (int i = 0; i < n; i++) {
                    Object k = unpack(u);
                    map.put(k, unpack(u));
                }
                return map;
            }
            case EXTENSION: {
                ExtensionTypeHeader h = u.unpackExtensionTypeHeader();
                return extValue(h.getType(), u.readPayload(h.getLength()));
            }
            default:
                throw new IOException("unknown MessagePack type " + f);
        }
    }

    private static Object extValue(byte type, byte[] data) throws IOException {
        try {
            switch (type) {
                case EXT_DATETIME: {
                    String text = new String(data, StandardCharsets.UTF_8);
                    try {
                        return OffsetDateTime.parse(text);
                    } catch (DateTimeParseException noOffset) {
                        return LocalDateTime.parse(text);
                    }
                }
                case EXT_DATE:
                    return LocalDate.parse(new String(data, StandardCharsets.UTF_8));
                case EXT_UUID: {
                    if (data.length != 16) {
                        throw new IOException("a UUID ext holds 16 bytes, not " + data.length);
                    }
                    ByteBuffer b = ByteBuffer.wrap(data);
                    return new UUID(b.getLong(), b.getLong());
                }
                case EXT_DECIMAL:
                    return new BigDecimal(new String(data, StandardCharsets.UTF_8));
                default:
                    return new ExtensionValue(type, data);
            }
        } catch (DateTimeParseException | NumberFormatException e) {
            throw new IOException("bad ext " + type + " data: " + e.getMessage(), e);
        }
    }

    private static void checkJson(Object v) {
        if (v == null || v instanceof Boolean || v instanceof String || v instanceof Long || v instanceof Integer
                || v instanceof Short || v instanceof Byte) {
            return;
        }
        if (v instanceof BigInteger) {
            checkInteger((BigInteger) v);
        } else if (v instanceof Double || v instanceof Float) {
            checkFinite(((Number) v).doubleValue());
        } else if (v instanceof Map) {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                mapKey(e.getKey());
                checkJson(e.getValue());
            }
        } else if (v instanceof Collection) {
            for (Object o : (Collection<?>) v) {
                checkJson(o);
            }
        } else if (v instanceof Object[]) {
            for (Object o : (Object[]) v) {
                checkJson(o);
            }
        } else {
            throw invalid("no JSON form for " + typeName(v) + " (use MSGPACK)");
        }
    }

    private static String mapKey(Object k) {
        if (k instanceof String) {
            return (String) k;
        }
        throw invalid("map keys are strings, not " + typeName(k));
    }

    private static BigInteger checkInteger(BigInteger b) {
        if (b.bitLength() >= 64 && (b.signum() < 0 || b.compareTo(UINT64_MAX) > 0)) {
            throw invalid("integer out of the int64/uint64 range: " + b);
        }
        return b;
    }

    private static double checkFinite(double d) {
        if (!Double.isFinite(d)) {
            throw invalid("floats are finite, not " + d);
        }
        return d;
    }

    private static String typeName(Object v) {
        return v == null ? "null" : v.getClass().getName();
    }

    private static StrataCacheException invalid(String message) {
        return new StrataCacheException.InvalidArgument(StrataCacheException.EINVAL, message);
    }
}
