// The explorer's only way to the service: GraphQL over HTTP, subscriptions over
// graphql-transport-ws, and the REST endpoints (modeling, /me, /system), all on this origin.
// An API key, when the service needs one, is kept for this browser tab only (sessionStorage).
import { createClient } from "graphql-ws";

const KEY = "kgtwin.apiKey";

/** A refusal or failure, with kgtwin's stable code (CONFLICT, FORBIDDEN, ...) and details. */
export class ApiError extends Error {
  constructor(message, code, details = null, status = 0) {
    super(message);
    this.code = code;
    this.details = details;
    this.status = status;
  }
}

let socket = null;

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
    socket?.dispose();
    socket = null;
  },
};

function credentials(headers = {}) {
  const key = session.key;
  return key ? { ...headers, "X-API-Key": key } : headers;
}

async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new ApiError(`the service does not answer (${error.message})`, "UNREACHABLE");
  }
}

/** Run a GraphQL query or mutation; its data, or an ApiError of its first error. */
export async function gql(query, variables = {}) {
  const response = await send("graphql", {
    method: "POST",
    headers: credentials({ "Content-Type": "application/json", Accept: "application/json" }),
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => null);
  if (!body) throw new ApiError(`HTTP ${response.status} without a GraphQL answer`, "BAD_RESPONSE", null, response.status);
  if (body.errors?.length) throw graphqlError(body.errors, response.status);
  return body.data;
}

function graphqlError(errors, status = 0) {
  const first = errors[0];
  return new ApiError(first.message, first.extensions?.code ?? "ERROR", first.extensions?.details ?? null, status);
}

/** Call a REST endpoint: ``json`` or ``form`` (FormData) as the body; problem+json becomes an ApiError. */
export async function rest(path, { method = "GET", json, form } = {}) {
  const init = { method, headers: credentials({ Accept: "application/json" }) };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  const response = await send(path, init);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.detail ?? body?.errors?.[0]?.message ?? `HTTP ${response.status}`;
    const details = body?.details ?? (body?.errors ? { errors: body.errors } : null);
    throw new ApiError(message, body?.code ?? "ERROR", details, response.status);
  }
  return body;
}

/** Subscribe; ``onData(data)`` for each result, ``onError(ApiError)`` once. Returns the function that stops it. */
export function subscribe(query, variables, onData, onError = () => {}) {
  if (!socket) {
    const url = new URL("graphql", document.baseURI);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    socket = createClient({
      url: url.href,
      lazy: true,
      retryAttempts: 1000,
      connectionParams: () => (session.key ? { apiKey: session.key } : {}),
    });
  }
  return socket.subscribe(
    { query, variables },
    {
      next: (message) => (message.errors?.length ? onError(graphqlError(message.errors)) : onData(message.data)),
      error: (error) => onError(error instanceof ApiError ? error : new ApiError(closeReason(error), "UNREACHABLE")),
      complete: () => {},
    },
  );
}

function closeReason(error) {
  if (error && typeof error === "object" && "code" in error) return `connection closed (${error.code} ${error.reason ?? ""})`;
  return String(error?.message ?? error);
}
