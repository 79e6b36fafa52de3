// The peer of bench/peer_graphql.py: @neo4j/graphql on Apollo Server's standalone HTTP server.
//
// Usage: node server.mjs <bolt URL> <port> <type definitions file>
// The type definitions are written by bench/peer_graphql.py for kgtwin's node layout
// (docs/graph-model.md). One process, production mode (no landing page, no introspection),
// the library's defaults otherwise. Prints "READY <port>" once it serves.
import { readFileSync } from "node:fs";

import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { Neo4jGraphQL } from "@neo4j/graphql";
import neo4j from "neo4j-driver";

const [url, port, typeDefsFile] = process.argv.slice(2);
const driver = neo4j.driver(url);
const neoSchema = new Neo4jGraphQL({ typeDefs: readFileSync(typeDefsFile, "utf8"), driver });
const server = new ApolloServer({ schema: await neoSchema.getSchema() });
await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: Number(port) } });
console.log(`READY ${port}`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    await server.stop();
    await driver.close();
    process.exit(0);
  });
}
