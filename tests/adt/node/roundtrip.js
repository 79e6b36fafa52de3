// Microsoft's Node SDK against kgtwin's ADT surface: create, query, patch round trip.
// Run by tests/adt/test_node_sdk.py with ADT_ENDPOINT, ADT_KEY and NODE_EXTRA_CA_CERTS set;
// prints one JSON object of what each call returned, which the Python test checks.
"use strict";

const { DigitalTwinsClient } = require("@azure/digital-twins-core");

// The SDK asks a TokenCredential for a token; a kgtwin API key is the bearer token.
class ApiKeyCredential {
  constructor(key) {
    this.key = key;
  }
  async getToken() {
    return { token: this.key, expiresOnTimestamp: Date.now() + 3600 * 1000 };
  }
}

async function main() {
  const client = new DigitalTwinsClient(process.env.ADT_ENDPOINT, new ApiKeyCredential(process.env.ADT_KEY));
  const suffix = process.env.ADT_SUFFIX;
  const model = `dtmi:ex:node:Lamp${suffix};1`;
  const twinId = `lamp-${suffix}`;
  const out = {};

  const created = await client.createModels([
    {
      "@context": "dtmi:dtdl:context;3",
      "@id": model,
      "@type": "Interface",
      contents: [
        { "@type": "Property", name: "brightness", schema: "double", writable: true },
        { "@type": "Property", name: "room", schema: "string" },
      ],
    },
  ]);
  out.models = created.map((m) => m.id);

  const twin = await client.upsertDigitalTwin(
    twinId,
    JSON.stringify({ $metadata: { $model: model }, brightness: 0.5, room: "lab" }),
  );
  // The SDK answers the body, and the ETag header beside it.
  out.created = {
    dtId: twin.body.$dtId,
    etag: twin.etag,
    bodyEtag: twin.body.$etag,
    model: twin.body.$metadata.$model,
    brightness: twin.body.brightness,
  };

  const found = [];
  for await (const item of client.queryTwins(`SELECT * FROM DIGITALTWINS T WHERE T.$dtId = '${twinId}'`)) {
    found.push(item.$dtId);
  }
  out.query = found;

  const patched = await client.updateDigitalTwin(twinId, [{ op: "replace", path: "/brightness", value: 0.9 }], {
    ifMatch: twin.etag,
  });
  out.patchedEtag = patched.etag;
  const read = await client.getDigitalTwin(twinId);
  out.afterPatch = { brightness: read.body.brightness, etag: read.etag };

  try {
    await client.updateDigitalTwin(twinId, [{ op: "replace", path: "/brightness", value: 0.1 }], {
      ifMatch: twin.etag,
    });
    out.stale = { status: 0 };
  } catch (error) {
    out.stale = { status: error.statusCode, code: error.code };
  }

  await client.deleteDigitalTwin(twinId);
  await client.deleteModel(model);
  try {
    await client.getDigitalTwin(twinId);
    out.deleted = { status: 200 };
  } catch (error) {
    out.deleted = { status: error.statusCode, code: error.code };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
