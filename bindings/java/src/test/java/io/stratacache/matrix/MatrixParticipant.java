package io.stratacache.matrix;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stratacache.Format;
import io.stratacache.Options;
import io.stratacache.StrataCache;
import io.stratacache.Value;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Java participant of the cross-language value matrix (run by bindings/java/matrix.sh):
 * <pre>
 *   write URL PREFIX LANG CASES_JSON [--key ID:HEX]   every case through StrataCache.set,
 *                                                     under PREFIX:LANG:name, no TTL
 *   read  URL PREFIX LANG CASES_JSON [--key ID:HEX]   every case through StrataCache.get,
 *                                                     printed as one typed-JSON object
 * </pre>
 * Any error (a missing key included): a message on stderr and exit status 1.
 */
public final class MatrixParticipant {
    private MatrixParticipant() {}

    public static void main(String[] args) {
        try {
            byte[] out = run(args).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            System.out.write(out, 0, out.length); // UTF-8 whatever the platform charset
            System.out.flush();
        } catch (Exception e) {
            System.err.println("matrix (java): " + e);
            System.exit(1);
        }
    }

    /** Runs one command; returns what goes to stdout. */
    static String run(String[] args) throws Exception {
        if (args.length != 5 && !(args.length == 7 && args[5].equals("--key"))) {
            throw new IllegalArgumentException(
                    "usage: matrix.sh write|read URL PREFIX LANG CASES_JSON [--key ID:HEX]");
        }
        String mode = args[0];
        Options options = Options.fromUrl(args[1]).failSilently(false);
        if (args.length == 7) {
            String[] idHex = args[6].split(":", 2);
            options = options.addKey(Integer.parseInt(idHex[0]), HexFormat.of().parseHex(idHex[1]), true);
        }
        String keyPrefix = args[2] + ":" + args[3] + ":";
        ObjectMapper json = new ObjectMapper();
        JsonNode cases = json.readTree(Files.readAllBytes(Path.of(args[4]))).get("cases");
        try (StrataCache cache = StrataCache.open(options)) {
            if (mode.equals("write")) {
                for (JsonNode c : cases) {
                    Format format = Format.valueOf(c.get("format").asText().toUpperCase());
                    Object value = TypedJson.toJava(c.get("value"));
                    cache.set(keyPrefix + c.get("name").asText(), value, format, Duration.ZERO);
                }
                return "";
            }
            if (!mode.equals("read")) {
                throw new IllegalArgumentException("mode is write or read, not " + mode);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            for (JsonNode c : cases) {
                String name = c.get("name").asText();
                Value v = cache.get(keyPrefix + name)
                        .orElseThrow(() -> new IllegalStateException("missing key " + keyPrefix + name));
                out.put(name, TypedJson.fromJava(v.decode()));
            }
            return json.writeValueAsString(out) + "\n";
        }
    }
}
