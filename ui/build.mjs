// Bundle the explorer and GraphiQL into the Python package (api/ui_static), so that kgtwin
// serves every browser asset itself: nothing is fetched from a CDN at run time.
//
// Output: assets/<entry>-<content hash>.{js,css} and one HTML page per page that names
// them: its scripts, its stylesheet, and (modulepreload) every chunk its scripts import
// before they run, so the browser fetches them all at once instead of one after another. Names carry their content's hash, so the server may let browsers cache assets for
// ever; the pages themselves are revalidated. The build is deterministic: the same lock
// file and sources give the same bytes (tests/ui/test_bundle.py rebuilds and compares).
//
//   node build.mjs [--outdir DIR]      (default: ../api/ui_static)
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const flag = process.argv.indexOf("--outdir");
const outdir = path.resolve(flag > 0 ? process.argv[flag + 1] : path.join(here, "..", "api", "ui_static"));

// A page's scripts, in the order they are named; the first of several runs as soon as it is
// loaded (async): the explorer's boot.js sends the opening requests while main.js loads.
const pages = {
  explorer: { entries: { boot: "src/explorer/boot.js", explorer: "src/explorer/main.js" }, html: "src/explorer/index.html" },
  graphiql: { entries: { graphiql: "src/graphiql/main.jsx" }, html: "src/graphiql/index.html" },
};

// GraphiQL's guard against React 15 (dead code with React 18) names two CDNs in its message.
// No kgtwin page loads anything from a CDN, and tests/ui/test_bundle.py checks that no
// bundle even names one, so that a real CDN reference could never slip in unnoticed.
const CDN_HINT = /If you are using a CDN source \([^)]*\), follow this example:/;
const withoutCdnHint = {
  name: "without-cdn-hint",
  setup(build) {
    build.onLoad({ filter: /node_modules[\\/]graphiql[\\/](dist|esm)[\\/]GraphiQL\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      if (!CDN_HINT.test(source)) throw new Error(`${args.path} changed: review the without-cdn-hint plugin`);
      return { contents: source.replace(CDN_HINT, "GraphiQL needs React 16 or later."), loader: "js" };
    });
  },
};

// cytoscape 3.33.1 counts a node without background images as still loading one on every
// second pass of its drawing code, and restyles it: each frame that draws such a node
// directly (a container too large for cytoscape's element textures) then throws away the
// cached drawing of the whole graph, and a large nested graph pans at a few frames a second.
// Counting only images that exist keeps the node's state steady (explorer: nesting).
const BACKGROUNDING = "if (inside && bgContainment === 'over' || !inside && bgContainment === 'inside') {\n        totalCompleted++;";
const withSteadyBackgrounding = {
  name: "with-steady-backgrounding",
  setup(build) {
    build.onLoad({ filter: /node_modules[\\/]cytoscape[\\/]dist[\\/]cytoscape\.esm\.mjs$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      if (!source.includes(BACKGROUNDING)) throw new Error(`${args.path} changed: review the with-steady-backgrounding plugin`);
      const fixed = BACKGROUNDING.replace("totalCompleted++;", "if (urlDefined[i]) totalCompleted++;");
      return { contents: source.replace(BACKGROUNDING, fixed), loader: "js" };
    });
  },
};

await rm(outdir, { recursive: true, force: true });
await mkdir(path.join(outdir, "assets"), { recursive: true });

const common = {
  absWorkingDir: here,
  outdir: path.join(outdir, "assets"),
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  jsx: "automatic",
  loader: { ".woff2": "file", ".woff": "file", ".ttf": "file", ".svg": "file", ".png": "file" },
  define: { "process.env.NODE_ENV": '"production"' },
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
  plugins: [withoutCdnHint, withSteadyBackgrounding],
};
// The explorer is split: what a page needs later (charts, the layered layout, the JSON
// source map of uploads) is a chunk it imports when it does. GraphiQL stays one file.
const builds = {
  explorer: await esbuild.build({ ...common, entryPoints: pages.explorer.entries, splitting: true }),
  graphiql: await esbuild.build({ ...common, entryPoints: pages.graphiql.entries }),
};

// Which files each page loads: its scripts, its stylesheet, the chunks its scripts import
// before they run (preload), and every chunk it may import at all (chunks).
const produced = {};
for (const [name, result] of Object.entries(builds)) {
  const outputs = result.metafile.outputs;
  const reachable = (file, kinds, seen = new Set()) => {
    for (const imported of outputs[file].imports) {
      if (imported.external || seen.has(imported.path) || !kinds.includes(imported.kind)) continue;
      seen.add(imported.path);
      reachable(imported.path, kinds, seen);
    }
    return seen;
  };
  const entries = Object.values(pages[name].entries).map((entry) => Object.entries(outputs).find(([, o]) => o.entryPoint === entry));
  const files = entries.map(([file]) => file);
  const css = entries.map(([, output]) => output.cssBundle).filter(Boolean);
  const names = (found) => [...new Set(found)].map((file) => path.basename(file)).filter((file) => !files.some((f) => path.basename(f) === file)).sort();
  produced[name] = {
    js: files.map((file) => path.basename(file)),
    css: css.length ? path.basename(css[0]) : null,
    preload: names(files.flatMap((file) => [...reachable(file, ["import-statement"])])),
    chunks: names(files.flatMap((file) => [...reachable(file, ["import-statement", "dynamic-import"])])),
  };
}

for (const [name, page] of Object.entries(pages)) {
  const files = produced[name];
  const template = await readFile(path.join(here, page.html), "utf8");
  const head = [
    ...(files.css ? [`<link rel="stylesheet" href="ui/assets/${files.css}">`] : []),
    ...files.preload.map((chunk) => `<link rel="modulepreload" href="ui/assets/${chunk}">`),
  ];
  const scripts = files.js.map((js, i) => `<script type="module"${i === 0 && files.js.length > 1 ? " async" : ""} src="ui/assets/${js}"></script>`);
  const html = template.replace("<!-- styles -->", head.join("\n  ")).replace("<!-- scripts -->", scripts.join("\n  "));
  await writeFile(path.join(outdir, `${name}.html`), html);
}
await writeFile(path.join(outdir, "manifest.json"), JSON.stringify(produced, null, 2) + "\n");
console.log(`ui: built ${Object.keys(produced).join(", ")} into ${path.relative(process.cwd(), outdir)}`);
