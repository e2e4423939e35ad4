package io.stratacache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every vector of tests/golden/manifest.json decoded through this package
 * ({@link Envelopes#decode}) to Java values: "ok" vectors equal their value_json /
 * value_hex, "error" vectors fail with the exception of their error kind.
 */
class GoldenVectorsTest {
    private static final Path MANIFEST = Path.of("../../tests/golden/manifest.json");
    private static final Map<String, Class<? extends StrataCacheException>> ERRORS = Map.of(
            "data_loss", StrataCacheException.Corrupt.class,
            "unsupported", StrataCacheException.Unsupported.class,
            "too_large", StrataCacheException.TooBig.class);

    static Stream<Arguments> vectors() throws Exception {
        JsonNode manifest = new ObjectMapper().readTree(Files.readAllBytes(MANIFEST));
        List<Arguments> out = new ArrayList<>();
        for (JsonNode v : manifest.get("vectors")) {
            out.add(Arguments.of(v.get("name").asText(), v));
        }
        assertTrue(out.size() >= 20, "the manifest lists the vectors");
        return out.stream();
    }

    private static Optional<Value> decode(JsonNode v) {
        Options options = Options.fromUrl("mem://");
        if (!v.get("key_id").isNull()) {
            options = options.addKey(v.get("key_id").asInt(), HexFormat.of().parseHex(v.get("key_hex").asText()), true);
        }
        byte[] envelope = HexFormat.of().parseHex(v.get("hex").asText());
        return Envelopes.decode(envelope, v.get("namespace").asText(), v.get("key").asText(), options);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectors")
    void decodesLikeTheManifestSays(String name, JsonNode v) {
        if (v.get("expect").asText().equals("error")) {
            Class<? extends StrataCacheException> expected = ERRORS.get(v.get("error").asText());
            assertThrows(expected, () -> decode(v), name);
            return;
        }
        Optional<Value> value = decode(v);
        if (v.path("negative").asBoolean(false)) {
            assertFalse(value.isPresent(), "a negative marker reads as a miss");
            return;
        }
        Value got = value.orElseThrow();
        assertEquals(v.get("serializer").asText(), got.format().name().toLowerCase(), name);
        assertArrayEquals(HexFormat.of().parseHex(v.get("payload_hex").asText()), got.bytes(), name);
        if (v.has("value_hex")) {
            assertArrayEquals(HexFormat.of().parseHex(v.get("value_hex").asText()), (byte[]) got.decode(), name);
        } else {
            assertEquals(ValueCodec.parseJson(v.get("value_json").asText()), got.decode(), name);
        }
    }
}
