// Boxes for twins drawn nested (containment as compound nodes), computed in one pass before
// anything is drawn.
//
// A force layout (fcose) places nested twins by simulating springs inside every container:
// seconds for thousands of twins, and a different picture on each visit. Here the picture is
// built bottom-up instead: a twin without contents is a cell as large as its node and label;
// a container is the box around its contents, packed in rows (the largest containers first,
// then the plain twins in the order given), plus its padding and its label above. Cytoscape
// then draws each container around its children, so only the cells need positions. Linear in
// twins, but for sorting each container's containers by height; deterministic.

/**
 * Boxes ``{id: {x, y, w, h, x1, y1, x2, y2, depth}}`` for every twin of ``ids``: the centre
 * and size of its node as drawn (a container's node is the box around its contents), the
 * corners of its footprint (node, contents and label), and how many containers it is in. ``parentOf``: Map from a twin to
 * the twin that contains it (a twin not mapped, or mapped to a twin not in ``ids``, is
 * outermost). ``cell(id)``: ``{w, h}`` of a twin with nothing inside, its label included
 * (its node is drawn ``node`` high at the top middle of that); a container is at least as
 * wide as its ``cell`` (its label). ``padding``: space between a
 * container's border and its contents; ``label``: height of a container's label, drawn
 * above its border; ``gap``: space between neighbours; ``aspect``: the width over height
 * each group of neighbours is packed to.
 */
export function nestedBoxes(ids, parentOf, cell, { node = 18, padding = 14, label = 16, gap = 10, aspect = 1.5 } = {}) {
  const known = new Set(ids);
  const container = new Map(); // the containment drawn: parentOf, without what is unknown or in a cycle
  for (const id of ids) {
    const parent = parentOf.get(id);
    if (parent !== undefined && known.has(parent)) container.set(id, parent);
  }
  // Up from each twin to a twin seen before: one met again on the same way up closes a
  // cycle of containment, broken there (that twin is drawn outermost). Linear: each twin is
  // walked over once.
  const seen = new Map(); // twin -> the walk that reached it first
  for (const id of ids) {
    let at = id;
    while (!seen.has(at)) {
      seen.set(at, id);
      if (!container.has(at)) break;
      const up = container.get(at);
      if (seen.get(up) === id) container.delete(at);
      else at = up;
    }
  }
  const children = new Map(ids.map((id) => [id, []]));
  const roots = [];
  for (const id of ids) (container.has(id) ? children.get(container.get(id)) : roots).push(id);
  // Outermost first, breadth first: every container comes before its contents.
  const order = [...roots];
  for (let i = 0; i < order.length; i++) for (const kid of children.get(order[i])) order.push(kid);

  // Innermost first: each twin's footprint, and where each of its contents sits in it.
  const size = new Map();
  const offset = new Map(); // a twin's top left corner, from its container's content origin
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i];
    const kids = children.get(id);
    if (kids.length === 0) {
      size.set(id, cell(id));
      continue;
    }
    const contents = pack(kids, size, offset, gap, aspect);
    // As wide as its label; the contents (and so the box drawn around them) in the middle.
    const w = Math.max(contents.w + 2 * padding, cell(id).w);
    size.set(id, { w, h: contents.h + 2 * padding + label, container: true, inset: (w - contents.w) / 2 });
  }
  const outer = pack(roots, size, offset, 2 * gap, aspect);

  // Outermost first: absolute places.
  const boxes = {};
  for (const id of order) {
    const parent = container.get(id);
    const inner = parent === undefined ? { x: -outer.w / 2, y: -outer.h / 2 } : boxes[parent].contents;
    const at = offset.get(id);
    const { w, h, inset } = size.get(id);
    const [x1, y1] = [inner.x + at.x, inner.y + at.y];
    const box = { x1, y1, x2: x1 + w, y2: y1 + h, depth: parent === undefined ? 0 : boxes[parent].depth + 1 };
    if (children.get(id).length === 0) {
      boxes[id] = { ...box, x: x1 + w / 2, y: y1 + node / 2, w: node, h: node };
    } else {
      const [bw, bh] = [w - 2 * (inset - padding), h - label];
      boxes[id] = { ...box, x: x1 + w / 2, y: y1 + label + bh / 2, w: bw, h: bh, contents: { x: x1 + inset, y: y1 + label + padding } };
    }
  }
  for (const box of Object.values(boxes)) delete box.contents;
  return boxes;
}

/**
 * Pack ``ids`` in rows about ``aspect`` times as wide as high: containers first, the tallest
 * first, then the others in their order; sets each one's ``offset``; the size of the whole.
 */
function pack(ids, size, offset, gap, aspect) {
  const containers = [];
  const cells = [];
  let area = 0;
  let widest = 0;
  for (const id of ids) {
    const { w, h } = size.get(id);
    area += (w + gap) * (h + gap);
    widest = Math.max(widest, w);
    (size.get(id).container ? containers : cells).push(id);
  }
  containers.sort((a, b) => size.get(b).h - size.get(a).h);
  const width = Math.max(widest, Math.sqrt(area * aspect));
  let [x, y, rowHeight, right] = [0, 0, 0, 0];
  for (const id of containers.length ? [...containers, ...cells] : ids) {
    const { w, h } = size.get(id);
    if (x > 0 && x + w > width) {
      y += rowHeight + gap;
      [x, rowHeight] = [0, 0];
    }
    offset.set(id, { x, y });
    right = Math.max(right, x + w);
    rowHeight = Math.max(rowHeight, h);
    x += w + gap;
  }
  return { w: right, h: y + rowHeight };
}
