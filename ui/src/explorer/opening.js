// The requests the explorer opens with: who the caller is, the models, and the first twins
// of the twin graph. ``boot.js`` sends them as soon as the page is parsed, from a script a
// few kilobytes long, while the main script (cytoscape and the panels, about half a
// megabyte) still downloads and compiles; main.js takes their answers.
import { gql, rest } from "./api.js";
import { MODELS } from "./models-index.js";

export const TWIN_FIELDS = "id model { id } properties";
export const OVERVIEW = `query Overview($first: Int!, $model: String) {
  twinGraph(first: $first, model: $model) {
    totalCount truncated
    twins { ${TWIN_FIELDS} }
    relationships { id name source target }
  }
}`;

/** How many twins the opening view holds: ``?first=`` or 2,000. */
export function firstTwins() {
  return Number(new URLSearchParams(location.search).get("first")) || 2000;
}

/**
 * The opening requests, sent now: ``{me, models, overview}``, each a promise of its answer's
 * data. With auth on and no key yet they are refused, and main.js asks again with a key.
 */
export function openingRequests() {
  const requests = { me: rest("me"), models: gql(MODELS), overview: gql(OVERVIEW, { first: firstTwins(), model: null }) };
  // Handled where they are awaited; a refusal is not an unhandled rejection meanwhile.
  for (const pending of Object.values(requests)) pending.catch(() => {});
  return requests;
}
