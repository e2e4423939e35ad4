package io.stratacache.matrix;

import com.fasterxml.jackson.databind.JsonNode;
import io.stratacache.ValueCodec;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The value matrix's typed JSON (tests/matrix/cases.json): JSON where a one-key object
 * whose key starts with {@code $} is a tag ({@code $int}, {@code $float}, {@code $bytes},
 * {@code $datetime}, {@code $date}, {@code $uuid}, {@code $decimal}, {@code $repeat}),
 * to and from the Java values of {@link ValueCodec}.
 */
final class TypedJson {
    private TypedJson() {}

    /** The Java value a typed JSON node stands for. */
    static Object toJava(JsonNode n) {
        if (n.isNull()) {
            return null;
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        if (n.isTextual()) {
            return n.textValue();
        }
        if (n.isArray()) {
            List<Object> list = new ArrayList<>();
            for (JsonNode e : n) {
                list.add(toJava(e));
            }
            return list;
        }
        if (n.isObject()) {
            if (n.size() == 1) {
                String tag = n.fieldNames().next();
                if (tag.startsWith("$")) {
                    return tagged(tag, n.get(tag));
                }
            }
            Map<String, Object> map = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : n.properties()) {
                map.put(e.getKey(), toJava(e.getValue()));
            }
            return map;
        }
        throw new IllegalArgumentException("bare JSON numbers are not typed JSON (use $int / $float): " + n);
    }

    private static Object tagged(String tag, JsonNode arg) {
        switch (tag) {
            case "$int": {
                BigInteger b = new BigInteger(arg.textValue());
                return b.bitLength() < 64 ? (Object) b.longValue() : b;
            }
            case "$float":
                return Double.parseDouble(arg.textValue());
            case "$bytes":
                return HexFormat.of().parseHex(arg.textValue());
            case "$datetime":
                try {
                    return OffsetDateTime.parse(arg.textValue());
                } catch (DateTimeParseException noOffset) {
                    return LocalDateTime.parse(arg.textValue());
                }
            case "$date":
                return LocalDate.parse(arg.textValue());
            case "$uuid":
                return UUID.fromString(arg.textValue());
            case "$decimal":
                return new BigDecimal(arg.textValue());
            case "$repeat":
                return arg.get(0).textValue().repeat(arg.get(1).intValue());
            default:
                throw new IllegalArgumentException("unknown tag " + tag);
        }
    }

    /** The canonical typed JSON of a Java value (plain Java objects Jackson writes as they are). */
    static Object fromJava(Object v) {
        if (v == null || v instanceof Boolean || v instanceof String) {
            return v;
        }
        if (v instanceof Long || v instanceof Integer || v instanceof BigInteger) {
            return Map.of("$int", v.toString());
        }
        if (v instanceof Double) {
            return Map.of("$float", v.toString());
        }
        if (v instanceof byte[]) {
            return Map.of("$bytes", HexFormat.of().formatHex((byte[]) v));
        }
        if (v instanceof OffsetDateTime || v instanceof LocalDateTime) {
            return Map.of("$datetime", v instanceof OffsetDateTime
                    ? java.time.format.DateTimeFormatter.ISO_OFFSET_DATE_TIME.format((OffsetDateTime) v)
                    : java.time.format.DateTimeFormatter.ISO_LOCAL_DATE_TIME.format((LocalDateTime) v));
        }
        if (v instanceof LocalDate) {
            return Map.of("$date", v.toString());
        }
        if (v instanceof UUID) {
            return Map.of("$uuid", v.toString());
        }
        if (v instanceof BigDecimal) {
            return Map.of("$decimal", v.toString());
        }
        if (v instanceof List) {
            List<Object> out = new ArrayList<>();
            for (Object o : (List<?>) v) {
                out.add(fromJava(o));
            }
            return out;
        }
        if (v instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                out.put(String.valueOf(e.getKey()), fromJava(e.getValue()));
            }
            return out;
        }
        throw new IllegalArgumentException("no typed JSON form for " + v.getClass().getName());
    }
}
