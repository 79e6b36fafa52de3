// The models as the explorer needs them everywhere: names, the inheritance tree, "is a" tests
// (a filter by model includes its subtypes) and one colour per model.
import { gql } from "./api.js";

const PALETTE = [
  "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2",
  "#edc948", "#ff9da7", "#9c755f", "#7f7f7f", "#2f4b7c", "#a05195",
];

/** The models and what the index keeps of each (opening.js asks it as the page opens). */
export const MODELS = `{ models { id displayName decommissioned twinCount extends { id } } }`;

export class ModelIndex {
  constructor(models) {
    this.models = new Map(models.map((m) => [m.id, { ...m, parents: m.extends.map((e) => e.id) }]));
    this.children = new Map();
    for (const model of this.models.values()) {
      for (const parent of model.parents) {
        if (!this.children.has(parent)) this.children.set(parent, []);
        this.children.get(parent).push(model.id);
      }
    }
    this.colours = new Map();
    this._ancestors = new Map();
  }

  /** The index of the models now, or of ``pending``: the data of a MODELS request already sent. */
  static async load(pending = null) {
    const data = (await pending) ?? (await gql(MODELS));
    return new ModelIndex(data.models);
  }

  get(id) {
    return this.models.get(id);
  }

  /** The display name, else the DTMI's last segment without its version. */
  name(id) {
    return this.models.get(id)?.displayName || shortName(id);
  }

  /** The model and every model it extends, however far up. */
  ancestors(id) {
    let found = this._ancestors.get(id);
    if (!found) {
      found = new Set([id]);
      for (const parent of this.models.get(id)?.parents ?? []) for (const a of this.ancestors(parent)) found.add(a);
      this._ancestors.set(id, found);
    }
    return found;
  }

  isA(id, base) {
    return this.ancestors(id).has(base);
  }

  /** Twins of the model and of every model extending it. */
  totalTwins(id, seen = new Set()) {
    if (seen.has(id)) return 0;
    seen.add(id);
    const own = this.models.get(id)?.twinCount ?? 0;
    return own + (this.children.get(id) ?? []).reduce((sum, child) => sum + this.totalTwins(child, seen), 0);
  }

  /** Every model in tree order: [{id, depth}], roots first, children under their first parent. */
  tree() {
    const out = [];
    const visit = (id, depth) => {
      out.push({ id, depth });
      const kids = (this.children.get(id) ?? []).filter((kid) => this.models.get(kid).parents[0] === id);
      for (const kid of kids.sort((a, b) => this.name(a).localeCompare(this.name(b)))) visit(kid, depth + 1);
    };
    const roots = [...this.models.values()].filter((m) => !m.parents.some((p) => this.models.has(p)));
    for (const root of roots.sort((a, b) => this.name(a.id).localeCompare(this.name(b.id)))) visit(root.id, 0);
    return out;
  }

  /** A stable colour per model, handed out in the order models are first drawn. */
  colour(id) {
    if (!this.colours.has(id)) this.colours.set(id, PALETTE[this.colours.size % PALETTE.length]);
    return this.colours.get(id);
  }
}

export function shortName(dtmi) {
  return dtmi.split(":").pop().split(";")[0];
}
