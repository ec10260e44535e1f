// Validates every manifest in this folder offline against the Kubernetes OpenAPI schemas that
// kubernetes-models ships (no cluster, no network: `kubectl apply --dry-run=client` needs an API
// server to download them from). Each YAML document must be a kind kubernetes-models knows and
// pass its schema. First a self-check: a manifest that is wrong on purpose must be refused, so a
// validator that accepts anything fails here instead of passing everything.
// Run: npm ci && node validate.mjs   (.ci/run does)
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));

/** The kubernetes-models class of an object: `v1` → core, `apps/v1` → apps/v1, … */
async function modelOf(doc) {
  const { apiVersion, kind } = doc ?? {};
  if (typeof apiVersion !== "string" || typeof kind !== "string") throw new Error("no apiVersion/kind");
  const path = apiVersion.includes("/") ? apiVersion : `${apiVersion}`;
  let module;
  try {
    module = await import(`kubernetes-models/${path}/${kind}`);
  } catch {
    throw new Error(`unknown kind ${apiVersion} ${kind}`);
  }
  return module[kind];
}

async function check(doc) {
  const Model = await modelOf(doc);
  new Model(doc).validate(); // throws with the schema's errors
}

async function selfCheck() {
  const wrong = [
    { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "three", selector: {}, template: {} } },
    { apiVersion: "v1", kind: "Service", metadata: { name: "x" }, spec: { ports: [{ port: "eighty" }] } },
    { apiVersion: "apps/v1", kind: "Deploymnet", metadata: { name: "x" } },
  ];
  for (const doc of wrong) {
    let refused = false;
    try { await check(doc); } catch { refused = true; }
    if (!refused) throw new Error(`self-check: the validator accepted a wrong ${doc.kind}`);
  }
}

await selfCheck();
let failures = 0, checked = 0;
for (const file of readdirSync(here).filter(f => f.endsWith(".yaml")).sort()) {
  const docs = parseAllDocuments(readFileSync(join(here, file), "utf8"));
  for (const [i, parsed] of docs.entries()) {
    if (parsed.errors.length > 0) {
      failures++;
      console.error(`${file} #${i + 1}: YAML: ${parsed.errors.map(e => e.message).join("; ")}`);
      continue;
    }
    const doc = parsed.toJS();
    if (doc === null) continue;
    try {
      await check(doc);
      checked++;
      console.log(`ok   ${file} #${i + 1} ${doc.apiVersion} ${doc.kind} ${doc.metadata?.name ?? ""}`);
    } catch (e) {
      failures++;
      console.error(`FAIL ${file} #${i + 1} ${doc.apiVersion} ${doc.kind} ${doc.metadata?.name ?? ""}: ${e.message}`);
    }
  }
}
console.log(`${checked} manifests valid, ${failures} invalid`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);
