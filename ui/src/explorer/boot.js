// The explorer's first script: sends the opening requests (opening.js) the moment the page is
// parsed, for main.js to take (``window.kgtwinOpening``) once it has loaded.
import { openingRequests } from "./opening.js";

// Whichever of the two scripts runs first sends them; the other takes them.
window.kgtwinOpening ??= openingRequests();
