// Runs the graphql-http server audits (GraphQL over HTTP specification) against the URL in
// argv[2] and prints one JSON object per audit on its own line: id, name, status
// ("ok", "notice", "warn", "error"), and for a failed audit the reason and the answer seen.
"use strict";
const { serverAudits } = require("graphql-http");

async function describe(response) {
  if (!response) return null;
  let body = null;
  try {
    body = await response.text();
  } catch (error) {
    body = `(body already read: ${error})`;
  }
  return { status: response.status, contentType: response.headers.get("content-type"), body };
}

async function main() {
  const url = process.argv[2];
  const results = await Promise.all(serverAudits({ url }).map((audit) => audit.fn()));
  for (const result of results) {
    const line = { id: result.id, name: result.name, status: result.status };
    if (result.status !== "ok") {
      line.reason = result.reason;
      line.response = await describe(result.response);
    }
    process.stdout.write(JSON.stringify(line) + "\n");
  }
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(1);
});
