// JDBC (java.sql) with H2 as an embedded in-memory database: a table made, filled in a
// transaction through a prepared statement, and summed by a query. The driver is found
// by DriverManager through the jar's service entry, as in most apps. Prints
// `ok sql: ...` and exits 0, or says what failed and exits 1.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;

public final class SqlApp {
    public static void main(String[] args) throws Exception {
        try (Connection db = DriverManager.getConnection("jdbc:h2:mem:board", "sa", "")) {
            try (Statement s = db.createStatement()) {
                s.execute("CREATE TABLE reading (sensor VARCHAR(16), reading INT)");
            }
            db.setAutoCommit(false);
            try (PreparedStatement insert = db.prepareStatement("INSERT INTO reading VALUES (?, ?)")) {
                int[] values = {1, 2, 39};
                for (int v : values) {
                    insert.setString(1, "adc0");
                    insert.setInt(2, v);
                    insert.addBatch();
                }
                insert.executeBatch();
            }
            db.commit();
            try (Statement s = db.createStatement();
                    ResultSet r = s.executeQuery("SELECT SUM(reading), COUNT(*) FROM reading WHERE sensor = 'adc0'")) {
                r.next();
                long sum = r.getLong(1);
                long count = r.getLong(2);
                if (sum != 42 || count != 3) {
                    System.out.println("FAIL sql: the query gave sum " + sum + ", count " + count);
                    System.exit(1);
                }
                String product = db.getMetaData().getDatabaseProductName() + " "
                        + db.getMetaData().getDatabaseProductVersion();
                System.out.println("ok sql: " + product + " summed 3 rows to " + sum);
            }
        }
        // APP_IDLE=1: stay, as a service would, until stopped (tests/bench/templates.sh
        // reads the idle RSS of the app's process then).
        if (System.getenv("APP_IDLE") != null) {
            Thread.sleep(Long.MAX_VALUE);
        }
    }
}
