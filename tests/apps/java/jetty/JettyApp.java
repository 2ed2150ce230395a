// An embedded Jetty 9 server on loopback with one handler that adds up the numbers of a
// JSON POST; a java.net.http client posts to it and checks the answer. Prints
// `ok jetty: ...` and exits 0, or says what failed and exits 1.
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.AbstractHandler;
import org.eclipse.jetty.util.Jetty;

public final class JettyApp extends AbstractHandler {
    @Override
    public void handle(String target, Request base, HttpServletRequest req, HttpServletResponse resp)
            throws IOException {
        base.setHandled(true);
        if (!"POST".equals(req.getMethod()) || !"/sum".equals(target)) {
            resp.sendError(404);
            return;
        }
        String body = new String(req.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Matcher list = Pattern.compile("\"numbers\"\\s*:\\s*\\[([^\\]]*)\\]").matcher(body);
        if (!list.find()) {
            resp.sendError(400);
            return;
        }
        long sum = 0;
        int count = 0;
        for (String n : list.group(1).split(",")) {
            sum += Long.parseLong(n.trim());
            count++;
        }
        resp.setContentType("application/json");
        resp.getWriter().print("{\"sum\": " + sum + ", \"count\": " + count + "}");
    }

    public static void main(String[] args) throws Exception {
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(new JettyApp());
        server.start();
        int status;
        String answer;
        try {
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            HttpRequest post = HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/sum"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"numbers\": [1, 2, 39]}"))
                    .build();
            HttpResponse<String> reply = client.send(post, HttpResponse.BodyHandlers.ofString());
            status = reply.statusCode();
            answer = reply.body();
        } finally {
            server.stop();
        }
        if (status != 200 || !answer.equals("{\"sum\": 42, \"count\": 3}")) {
            System.out.println("FAIL jetty: POST /sum answered " + status + " " + answer);
            System.exit(1);
        }
        System.out.println("ok jetty: Jetty " + Jetty.VERSION + " answered POST /sum with " + answer);
        // APP_IDLE=1: stay, as a service would, until stopped (tests/bench/templates.sh
        // reads the idle RSS of the app's process then).
        if (System.getenv("APP_IDLE") != null) {
            Thread.sleep(Long.MAX_VALUE);
        }
    }
}
