package dev.kgtwin.testserver;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

/**
 * A Neo4j Community server for the kgtwin test suite: one embedded DBMS in a data
 * directory, answering Bolt on 127.0.0.1 without authentication.
 *
 * <p>Usage: {@code Neo4jTestServer <data directory> <bolt port>}. Prints {@code READY}
 * once the default database is available, and shuts the DBMS down cleanly on SIGTERM
 * (printing {@code STOPPED}), so the store is never left needing recovery.
 */
public final class Neo4jTestServer {

    private static final long START_TIMEOUT_MILLIS = 120_000;

    private Neo4jTestServer() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2) {
            System.err.println("usage: Neo4jTestServer <data directory> <bolt port>");
            System.exit(2);
        }
        Path dataDir = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);

        DatabaseManagementService managementService = new DatabaseManagementServiceBuilder(dataDir)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                // Tests hold small graphs; the default page cache would take half the RAM.
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(128))
                // Netty waits for 5 s of quiet on each of Bolt's two event loop groups before
                // it stops; without this every shutdown takes 10 s longer than it needs to.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .build();

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            managementService.shutdown();
            System.out.println("STOPPED");
            System.out.flush();
        }, "neo4j-test-server-shutdown"));

        if (!managementService.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME)
                .isAvailable(START_TIMEOUT_MILLIS)) {
            System.err.println("default database not available after " + START_TIMEOUT_MILLIS + " ms");
            System.exit(1);
        }
        System.out.println("READY bolt://127.0.0.1:" + port);
        System.out.flush();

        // Neo4j's own threads would keep the JVM alive too; waiting here makes it explicit.
        new CountDownLatch(1).await();
    }
}
