// The java template's sample service (the contract is the same for every template):
// GET / answers {"runtime":"java","status":"ok"}; POST / with a JSON object answers a
// greeting, the sum of "numbers" and the request echoed back; bad input answers 400.
// Only the JDK: com.sun.net.httpserver, java.util.logging and a small JSON parser.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

public final class Service {
    static final Logger LOG = Logger.getLogger("service");
    static final int MAX_BODY = 1 << 20; // a larger body is refused, not buffered
    static final int MAX_DEPTH = 64;     // deeper nesting is refused, so no stack overflow

    public static void main(String[] args) throws IOException {
        // One plain line per record on stdout, flushed at once (the default handler
        // writes two lines per record to stderr).
        StreamHandler out = new StreamHandler(System.out, new Formatter() {
            @Override public String format(LogRecord r) { return r.getMessage() + "\n"; }
        }) {
            @Override public synchronized void publish(LogRecord r) { super.publish(r); flush(); }
        };
        LOG.setUseParentHandlers(false);
        LOG.addHandler(out);

        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 16);
        server.createContext("/", Service::handle);
        // No executor: requests run on the server's one dispatcher thread, the least
        // memory for a service on a small board.
        server.setExecutor(null);
        // The JVM exits with 143 on SIGTERM; a stop asked for is a clean exit.
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), s -> System.exit(0));
        server.start();
        LOG.info("listening on 127.0.0.1:" + port);
    }

    static void handle(HttpExchange ex) throws IOException {
        int status;
        Object reply;
        try {
            String method = ex.getRequestMethod();
            if (!ex.getRequestURI().getPath().equals("/")) {
                status = 404; reply = error("no such path");
            } else if (method.equals("GET")) {
                status = 200; reply = object("runtime", "java", "status", "ok");
            } else if (method.equals("POST")) {
                reply = answer(readBody(ex.getRequestBody())); status = 200;
            } else {
                status = 405; reply = error("only GET and POST");
            }
        } catch (IllegalArgumentException e) { // bad input, with a message saying what
            status = 400; reply = error(e.getMessage());
        } catch (RuntimeException e) {         // a bug: answer, and keep serving
            status = 500; reply = error("internal error");
            LOG.log(Level.WARNING, "internal error", e);
        }
        byte[] body = Json.write(reply).getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
        ex.close();
        LOG.info(ex.getRequestMethod() + " " + ex.getRequestURI() + " " + status);
    }

    static Map<String, Object> answer(String body) {
        if (!(Json.parse(body) instanceof Map<?, ?> request)) {
            throw new IllegalArgumentException("the body must be a JSON object");
        }
        Object name = request.containsKey("name") ? request.get("name") : "world";
        if (!(name instanceof String)) throw new IllegalArgumentException("\"name\" must be a string");
        BigInteger sum = BigInteger.ZERO; // JSON integers have no size limit
        Object numbers = request.containsKey("numbers") ? request.get("numbers") : List.of();
        if (!(numbers instanceof List<?> list)) throw new IllegalArgumentException("\"numbers\" must be a list of integers");
        for (Object n : list) {
            if (!(n instanceof BigInteger i)) throw new IllegalArgumentException("\"numbers\" must be a list of integers");
            sum = sum.add(i);
        }
        return object("runtime", "java", "greeting", "hello, " + name, "sum", sum, "echo", request);
    }

    static String readBody(InputStream in) throws IOException {
        byte[] bytes = in.readNBytes(MAX_BODY + 1);
        if (bytes.length > MAX_BODY) throw new IllegalArgumentException("the body is larger than 1 MiB");
        try { // strict: malformed UTF-8 is bad input, not silently replaced
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("the body is not UTF-8");
        }
    }

    static Map<String, Object> error(String message) { return object("error", message); }

    static Map<String, Object> object(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>(); // keeps the keys in order
        for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        return m;
    }

    /** JSON (RFC 8259) to and from Map, List, String, BigInteger (integers), BigDecimal
     *  (other numbers), Boolean and null. Errors are IllegalArgumentExceptions. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) { this.s = s; }

        static Object parse(String text) {
            Json p = new Json(text);
            Object v = p.value(0);
            p.space();
            if (p.i != text.length()) throw p.bad("unexpected text after the JSON value");
            return v;
        }

        private IllegalArgumentException bad(String what) {
            return new IllegalArgumentException("invalid JSON at offset " + i + ": " + what);
        }

        private void space() {
            while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) i++;
        }

        private boolean eat(char c) {
            space();
            if (i < s.length() && s.charAt(i) == c) { i++; return true; }
            return false;
        }

        private Object value(int depth) {
            if (depth > MAX_DEPTH) throw bad("nested too deeply");
            space();
            if (i >= s.length()) throw bad("a value is missing");
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                if (eat('}')) return m;
                do {
                    space();
                    if (i >= s.length() || s.charAt(i) != '"') throw bad("a key must be a string");
                    String key = string();
                    if (!eat(':')) throw bad("':' expected");
                    m.put(key, value(depth + 1));
                } while (eat(','));
                if (!eat('}')) throw bad("',' or '}' expected");
                return m;
            }
            if (c == '[') {
                i++;
                List<Object> l = new ArrayList<>();
                if (eat(']')) return l;
                do l.add(value(depth + 1)); while (eat(','));
                if (!eat(']')) throw bad("',' or ']' expected");
                return l;
            }
            if (c == '"') return string();
            for (String word : new String[] {"true", "false", "null"}) {
                if (s.startsWith(word, i)) {
                    i += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word);
                }
            }
            return number();
        }

        private String string() {
            StringBuilder b = new StringBuilder();
            i++; // the opening quote
            while (true) {
                if (i >= s.length()) throw bad("unterminated string");
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c < 0x20) throw bad("control character in a string");
                if (c != '\\') { b.append(c); continue; }
                if (i >= s.length()) throw bad("unterminated string");
                char e = s.charAt(i++);
                int k = "\"\\/bfnrt".indexOf(e);
                if (k >= 0) {
                    b.append("\"\\/\b\f\n\r\t".charAt(k));
                } else if (e == 'u' && i + 4 <= s.length()
                        && s.substring(i, i + 4).chars().allMatch(h -> Character.digit(h, 16) >= 0)) {
                    b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                    i += 4;
                } else {
                    throw bad("bad escape in a string");
                }
            }
        }

        private Object number() {
            int start = i;
            if (i < s.length() && s.charAt(i) == '-') i++;
            if (i < s.length() && s.charAt(i) == '0') i++; else if (digits() == 0) throw bad("a value expected");
            boolean integer = true;
            if (i < s.length() && s.charAt(i) == '.') {
                i++; integer = false;
                if (digits() == 0) throw bad("digits expected after '.'");
            }
            if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
                i++; integer = false;
                if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) i++;
                if (digits() == 0) throw bad("digits expected in the exponent");
            }
            String text = s.substring(start, i);
            return integer ? new BigInteger(text) : new BigDecimal(text);
        }

        private int digits() {
            int start = i;
            while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
            return i - start;
        }

        static String write(Object v) {
            StringBuilder b = new StringBuilder();
            write(b, v);
            return b.toString();
        }

        private static void write(StringBuilder b, Object v) {
            if (v instanceof Map<?, ?> m) {
                b.append('{');
                String sep = "";
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    b.append(sep);
                    write(b, e.getKey());
                    b.append(':');
                    write(b, e.getValue());
                    sep = ",";
                }
                b.append('}');
            } else if (v instanceof List<?> l) {
                b.append('[');
                for (int k = 0; k < l.size(); k++) {
                    if (k > 0) b.append(',');
                    write(b, l.get(k));
                }
                b.append(']');
            } else if (v instanceof String str) {
                b.append('"');
                for (char c : str.toCharArray()) {
                    if (c == '"' || c == '\\') b.append('\\').append(c);
                    else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
                b.append('"');
            } else {
                b.append(v); // numbers, booleans and null print as JSON already
            }
        }
    }
}
