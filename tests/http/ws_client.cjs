// A graphql-ws client (the library front ends use) driven by the websocket tests.
//
//   node ws_client.cjs <ws-url> <scenario JSON>
//
// The scenario: {"connectionParams": {...}, "initDelayMs": 0, "query": "subscription ...",
// "variables": {...}, "take": 1}. The client connects (sending connection_init with the
// params after initDelayMs), subscribes, and ends after `take` results or when the socket
// closes. It prints one JSON object: {"results": [...], "errors": [...], "closed": {code, reason}}.
"use strict";
const WebSocket = require("ws");
const { createClient } = require("graphql-ws");

async function main() {
  const url = process.argv[2];
  const scenario = JSON.parse(process.argv[3] || "{}");
  const outcome = { results: [], errors: [], closed: null };
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: async () => {
      if (scenario.initDelayMs) await new Promise((r) => setTimeout(r, scenario.initDelayMs));
      return scenario.connectionParams || {};
    },
    on: {
      closed: (event) => {
        outcome.closed = { code: event.code, reason: event.reason };
        finish();
      },
    },
  });
  if (scenario.query) {
    client.subscribe(
      { query: scenario.query, variables: scenario.variables || {} },
      {
        next: (value) => {
          outcome.results.push(value);
          if (outcome.results.length >= (scenario.take || 1)) finish();
        },
        error: (error) => {
          outcome.errors.push(
            Array.isArray(error) ? error : { message: String(error && (error.reason || error.message || error)) },
          );
          finish();
        },
        complete: () => finish(),
      },
    );
  }
  const timer = setTimeout(finish, scenario.timeoutMs || 20000);
  await finished;
  clearTimeout(timer);
  await client.dispose();
  process.stdout.write(JSON.stringify(outcome) + "\n");
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(1);
});
