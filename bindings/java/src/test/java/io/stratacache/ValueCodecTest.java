package io.stratacache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Java values to and from MessagePack and JSON, byte for byte where the format is pinned
 * (smallest integer encodings, float64, the shared ext types). Pure Java: needs no library.
 */
class ValueCodecTest {
    private static String hex(Object value) {
        return HexFormat.of().formatHex(ValueCodec.encode(value, Format.MSGPACK));
    }

    private static Object roundTrip(Object value) {
        return ValueCodec.decode(Format.MSGPACK, ValueCodec.encode(value, Format.MSGPACK));
    }

    @Test
    void integersUseTheSmallestEncodingAndKeepTheirFull64BitRange() {
        assertEquals("00", hex(0));
        assertEquals("7f", hex(127L));
        assertEquals("ff", hex(-1));
        assertEquals("cc80", hex(128L));
        assertEquals("d380" + "00".repeat(7), hex(Long.MIN_VALUE));
        BigInteger uint64Max = new BigInteger("18446744073709551615");
        assertEquals("cf" + "ff".repeat(8), hex(uint64Max));
        assertEquals(uint64Max, roundTrip(uint64Max));
        assertEquals(Long.MAX_VALUE, roundTrip(BigInteger.valueOf(Long.MAX_VALUE)), "fits a long: read as Long");
        assertThrows(StrataCacheException.InvalidArgument.class, () -> hex(uint64Max.add(BigInteger.ONE)));
        assertThrows(StrataCacheException.InvalidArgument.class,
                () -> hex(BigInteger.valueOf(Long.MIN_VALUE).subtract(BigInteger.ONE)));
    }

    @Test
    void floatsAreFloat64AndFiniteOnly() {
        assertEquals("cb3ff8000000000000", hex(1.5f));
        assertEquals(1.5, roundTrip(1.5));
        assertThrows(StrataCacheException.InvalidArgument.class, () -> hex(Double.NaN));
        assertThrows(StrataCacheException.InvalidArgument.class,
                () -> ValueCodec.encode(Double.POSITIVE_INFINITY, Format.JSON));
    }

    @Test
    void sharedExtTypesRoundTrip() {
        OffsetDateTime t = OffsetDateTime.parse("2026-11-25T12:34:56.789+02:00");
        assertEquals(t, roundTrip(t));
        assertEquals("c71d01" + HexFormat.of().formatHex("2026-11-25T12:34:56.789+02:00".getBytes()), hex(t));
        assertEquals(OffsetDateTime.parse("2026-11-25T12:00:00Z"), roundTrip(Instant.parse("2026-11-25T12:00:00Z")));
        assertEquals("c71401" + HexFormat.of().formatHex("2026-11-25T12:00:00Z".getBytes()),
                hex(Instant.parse("2026-11-25T12:00:00Z")), "seconds always written");
        LocalDateTime naive = LocalDateTime.parse("2026-11-25T12:34:56");
        assertEquals(naive, roundTrip(naive));
        LocalDate d = LocalDate.parse("2026-11-25");
        assertEquals("c70a02" + HexFormat.of().formatHex("2026-11-25".getBytes()), hex(d));
        assertEquals(d, roundTrip(d));
        UUID u = UUID.fromString("1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assertEquals("d8031b4e28ba2fa111d2883f0016d3cca427", hex(u));
        assertEquals(u, roundTrip(u));
        BigDecimal dec = new BigDecimal("12.50");
        assertEquals("c7050431322e3530", hex(dec));
        assertEquals(dec, roundTrip(dec), "scale kept");
        ExtensionValue other = new ExtensionValue((byte) 9, new byte[] {1, 2});
        assertEquals(other, roundTrip(other));
    }

    @Test
    void containersBytesAndStrings() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("list", List.of(1L, "two", true));
        m.put("nil", null);
        m.put("bytes", new byte[] {0, (byte) 0xff});
        @SuppressWarnings("unchecked")
        Map<String, Object> back = (Map<String, Object>) roundTrip(m);
        assertEquals(List.of(1L, "two", true), back.get("list"));
        assertEquals(null, back.get("nil"));
        assertArrayEquals(new byte[] {0, (byte) 0xff}, (byte[]) back.get("bytes"));
        assertEquals(List.of("a", 2L), roundTrip(new Object[] {"a", 2}));
        assertEquals("a3e282ac", hex(List.of("€")).substring(2));
        assertThrows(StrataCacheException.InvalidArgument.class, () -> hex(Map.of(1, "non-string key")));
        assertThrows(StrataCacheException.InvalidArgument.class, () -> hex(new Object()));
    }

    @Test
    void jsonHoldsOnlyJsonTypesAndReadsIntegersAsLong() {
        assertEquals("{\"a\":[1,2.5,null,\"x\"]}",
                new String(ValueCodec.encode(Map.of("a", Arrays.asList(1, 2.5, null, "x")), Format.JSON)));
        assertEquals(Map.of("a", List.of(1L, 2.5)), ValueCodec.parseJson("{\"a\": [1, 2.5]}"));
        assertEquals(new BigInteger("18446744073709551615"), ValueCodec.parseJson("18446744073709551615"));
        assertThrows(StrataCacheException.InvalidArgument.class,
                () -> ValueCodec.encode(UUID.randomUUID(), Format.JSON));
        assertThrows(StrataCacheException.Corrupt.class, () -> ValueCodec.decode(Format.JSON, "{".getBytes()));
    }

    @Test
    void undecodableMessagePackIsCorrupt() {
        assertThrows(StrataCacheException.Corrupt.class, () -> ValueCodec.decode(Format.MSGPACK, new byte[] {(byte) 0xc1}));
        assertThrows(StrataCacheException.Corrupt.class, () -> ValueCodec.decode(Format.MSGPACK, new byte[] {(byte) 0x92, 1}));
        assertThrows(StrataCacheException.Corrupt.class, () -> ValueCodec.decode(Format.MSGPACK, new byte[] {1, 2}),
                "trailing bytes");
        assertThrows(StrataCacheException.Corrupt.class,
                () -> ValueCodec.decode(Format.MSGPACK, new byte[] {(byte) 0xd4, 3, 0}), "a UUID ext holds 16 bytes");
        assertThrows(StrataCacheException.InvalidArgument.class, () -> ValueCodec.encode("text", Format.RAW));
    }
}
