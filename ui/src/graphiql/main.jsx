// GraphiQL for kgtwin's /graphql, bundled with React so the page works with no internet.
// Queries go to the page's own origin; subscriptions over graphql-transport-ws. An API key
// given to the explorer in this browser tab is sent too (header and connection_init), and
// the headers pane can carry any other credentials.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/graphiql.css";
import { createClient } from "graphql-ws";
import { createRoot } from "react-dom/client";

const KEY = "kgtwin.apiKey";
const endpoint = new URL("graphql", document.baseURI);
const socket = new URL(endpoint);
socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
const apiKey = sessionStorage.getItem(KEY);

const fetcher = createGraphiQLFetcher({
  url: endpoint.href,
  headers: apiKey ? { "X-API-Key": apiKey } : undefined,
  wsClient: createClient({ url: socket.href, lazy: true, connectionParams: () => (apiKey ? { apiKey } : {}) }),
});

const defaultQuery = `# kgtwin GraphQL: the contract is docs/api.md; press Ctrl+Enter to run.
{
  twins(model: "dtmi:kgtwin:space:Room;1", first: 5) {
    totalCount
    nodes { id name: property(name: "name") latest(name: "temperature") { value time } }
  }
}
`;

createRoot(document.getElementById("graphiql")).render(
  <GraphiQL fetcher={fetcher} defaultQuery={defaultQuery} defaultEditorToolsVisibility={false} />,
);
