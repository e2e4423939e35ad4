package io.stratacache.matrix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stratacache.RedisServer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The matrix participant writes every kind of case and reads it back as canonical typed
 * JSON, plain and with an AES key and compression; a missing key is an error.
 */
class MatrixParticipantTest {
    @RegisterExtension
    static final RedisServer REDIS = new RedisServer();

    private static final String CASES = "{\"cases\": ["
            + "{\"name\": \"nil\", \"format\": \"msgpack\", \"value\": null},"
            + "{\"name\": \"bools\", \"format\": \"json\", \"value\": [true, false]},"
            + "{\"name\": \"int_min\", \"format\": \"msgpack\", \"value\": {\"$int\": \"-9223372036854775808\"}},"
            + "{\"name\": \"uint_max\", \"format\": \"msgpack\", \"value\": {\"$int\": \"18446744073709551615\"}},"
            + "{\"name\": \"json_ints\", \"format\": \"json\", \"value\": [{\"$int\": \"0\"}, {\"$int\": \"-1\"},"
            + "  {\"$int\": \"18446744073709551615\"}]},"
            + "{\"name\": \"floats\", \"format\": \"msgpack\", \"value\": [{\"$float\": \"1.5\"},"
            + "  {\"$float\": \"-0.1\"}, {\"$float\": \"1e300\"}]},"
            + "{\"name\": \"text\", \"format\": \"msgpack\", \"value\": \"Zoë ✓ \\u0000 end\"},"
            + "{\"name\": \"bytes\", \"format\": \"msgpack\", \"value\": {\"$bytes\": \"00ff10\"}},"
            + "{\"name\": \"raw\", \"format\": \"raw\", \"value\": {\"$bytes\": \"deadbeef00\"}},"
            + "{\"name\": \"map\", \"format\": \"json\", \"value\": {\"a\": {\"$int\": \"1\"}, \"b\": [\"x\", null]}},"
            + "{\"name\": \"ext\", \"format\": \"msgpack\", \"value\": {"
            + "  \"when\": {\"$datetime\": \"2026-11-25T12:34:56.789+02:00\"},"
            + "  \"day\": {\"$date\": \"2026-11-25\"},"
            + "  \"id\": {\"$uuid\": \"1b4e28ba-2fa1-11d2-883f-0016d3cca427\"},"
            + "  \"price\": {\"$decimal\": \"12.50\"}}},"
            + "{\"name\": \"big\", \"format\": \"msgpack\", \"value\": {\"$repeat\": [\"abc\", 40000]}}"
            + "]}";

    @TempDir
    Path dir;

    private JsonNode roundTrip(String url, String lang, String... key) throws Exception {
        Path cases = dir.resolve("cases.json");
        Files.writeString(cases, CASES);
        String[] base = {url, "matrix", lang, cases.toString()};
        String[] write = concat(new String[] {"write"}, base, key);
        String[] read = concat(new String[] {"read"}, base, key);
        assertEquals("", MatrixParticipant.run(write));
        return new ObjectMapper().readTree(MatrixParticipant.run(read));
    }

    private static String[] concat(String[] a, String[] b, String[] c) {
        String[] out = new String[a.length + b.length + c.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        System.arraycopy(c, 0, out, a.length + b.length, c.length);
        return out;
    }

    private static void assertCanonical(JsonNode out) throws Exception {
        ObjectMapper json = new ObjectMapper();
        JsonNode cases = json.readTree(CASES).get("cases");
        assertEquals(cases.size(), out.size());
        for (JsonNode c : cases) {
            String name = c.get("name").asText();
            JsonNode expected = json.valueToTree(TypedJson.fromJava(TypedJson.toJava(c.get("value"))));
            assertEquals(expected, out.get(name), name);
        }
        assertEquals("{\"$int\":\"18446744073709551615\"}", out.get("uint_max").toString());
        assertEquals("[{\"$float\":\"1.5\"},{\"$float\":\"-0.1\"},{\"$float\":\"1.0E300\"}]",
                out.get("floats").toString());
        assertEquals("{\"$bytes\":\"deadbeef00\"}", out.get("raw").toString());
        assertEquals(120000, out.get("big").asText().length(), "$repeat is printed in full");
        assertEquals("2026-11-25T12:34:56.789+02:00", out.get("ext").get("when").get("$datetime").asText());
    }

    @Test
    void writesAndReadsEveryKindOfCase() throws Exception {
        assertCanonical(roundTrip(REDIS.url(), "java"));
    }

    @Test
    void withAnEncryptionKeyAndCompression() throws Exception {
        String key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        assertCanonical(roundTrip(REDIS.url() + "?compression_threshold=64", "javakeyed", "--key", "7:" + key));
    }

    @Test
    void aMissingKeyIsAnError() throws Exception {
        Path cases = dir.resolve("cases.json");
        Files.writeString(cases, CASES);
        Exception e = assertThrows(IllegalStateException.class,
                () -> MatrixParticipant.run(new String[] {"read", REDIS.url(), "matrix", "nobody", cases.toString()}));
        assertTrue(e.getMessage().contains("matrix:nobody:nil"), e.getMessage());
    }
}
