// Positions for a large twin graph in layers, computed in one pass before anything is drawn.
//
// cytoscape's own layouts run inside the drawing: each computes every element's style and
// bounds and fires an event per moved twin, which for thousands of twins costs far more than
// the placing itself. Here a breadth-first search from the roots gives each twin a layer and
// a parent; a twin sits above the middle of its children, and the leaves under one parent
// (the rooms of a floor) are packed in a small grid rather than one long row, so the picture
// stays readable when zoomed in. Linear in twins + relationships.

/**
 * Positions ``{id: {x, y}}`` for ``ids``, layered along ``links`` ([{source, target}]) from
 * ``roots``. ``directed``: follow links from source to target only (else either way). Twins
 * the search does not reach start trees of their own. ``gap``: room for one twin.
 */
export function layeredPositions(ids, links, roots, { directed, gap = 28, layerGap = 160 }) {
  const next = new Map(ids.map((id) => [id, []]));
  for (const { source, target } of links) {
    if (!next.has(source) || !next.has(target)) continue;
    next.get(source).push(target);
    if (!directed) next.get(target).push(source);
  }
  // Breadth-first: a twin's parent is the twin it was first reached from.
  const children = new Map();
  const depth = new Map();
  const trees = [];
  const search = (root) => {
    if (depth.has(root)) return;
    trees.push(root);
    depth.set(root, 0);
    children.set(root, []);
    const queue = [root];
    for (let i = 0; i < queue.length; i++) {
      const at = queue[i];
      for (const to of next.get(at)) {
        if (depth.has(to)) continue;
        depth.set(to, depth.get(at) + 1);
        children.set(to, []);
        children.get(at).push(to);
        queue.push(to);
      }
    }
  };
  for (const root of roots) if (next.has(root)) search(root);
  for (const id of ids) search(id);

  // Left to right in slots of ``gap``; a parent over its children, a parent's leaves in a
  // grid. Depth first without recursion: a production line may be a chain of thousands.
  const positions = {};
  let slot = 0;
  for (const root of trees) {
    const stack = [[root, false]];
    while (stack.length) {
      const [id, done] = stack.pop();
      const kids = children.get(id);
      const y = depth.get(id) * layerGap;
      if (done) {
        positions[id] = { x: (positions[kids[0]].x + positions[kids[kids.length - 1]].x) / 2, y };
      } else if (kids.length === 0) {
        positions[id] = { x: slot++ * gap, y };
      } else if (kids.length > 3 && kids.every((kid) => children.get(kid).length === 0)) {
        const columns = Math.ceil(Math.sqrt(kids.length));
        kids.forEach((kid, i) => {
          positions[kid] = { x: (slot + (i % columns)) * gap, y: y + layerGap + Math.floor(i / columns) * gap };
        });
        positions[id] = { x: (slot + (columns - 1) / 2) * gap, y };
        slot += columns + 1;
      } else {
        stack.push([id, true]);
        for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], false]);
      }
    }
    slot += 1;
  }
  return positions;
}
