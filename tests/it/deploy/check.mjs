// Checks of deploy/ that need a YAML parser or the Prometheus Operator's schemas,
// run by tests/it/deploy.rs with the npm packages .ci/run installs
// (PSTN_AGENT_NODE_MODULES, default target/deploy-tools/node_modules).
//   node check.mjs servicemonitor FILE   validate against the ServiceMonitor CRD schema
//   node check.mjs configmap FILE KEY    print data[KEY] of a ConfigMap
//   node check.mjs collector FILE        every pipeline component defined, every defined one used
//   node check.mjs vector FILE           every input names a defined source or transform
//   node check.mjs fluent-bit FILE       inputs tagged, every output matches an input's tag
//   node check.mjs replicated DIR        the replicated variant's promises; prints the agent's env
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const modules = process.env.PSTN_AGENT_NODE_MODULES;
const yaml = await import(join(modules, "js-yaml/index.js"));
const [command, file, key] = process.argv.slice(2);
const document = command === "replicated" ? null : yaml.load(readFileSync(file, "utf8"));

function fail(message) {
  console.error(`${file}: ${message}`);
  process.exit(1);
}

if (command === "servicemonitor") {
  const path = join(modules, "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js");
  const { ServiceMonitor } = await import(path);
  if (document.kind !== "ServiceMonitor") fail(`kind is ${document.kind}`);
  try {
    new ServiceMonitor(document).validate();
  } catch (error) {
    fail(error.message);
  }
  console.log(`${file}: valid ServiceMonitor`);
} else if (command === "configmap") {
  const value = document?.data?.[key];
  if (typeof value !== "string") fail(`no data.${key}`);
  process.stdout.write(value);
} else if (command === "collector") {
  const problems = [];
  const kinds = ["receivers", "processors", "exporters"];
  const used = new Set();
  const pipelines = document?.service?.pipelines ?? {};
  if (Object.keys(pipelines).length === 0) problems.push("no service.pipelines");
  for (const [name, pipeline] of Object.entries(pipelines)) {
    for (const kind of kinds) {
      for (const id of pipeline[kind] ?? []) {
        used.add(`${kind}/${id}`);
        if (!(id in (document[kind] ?? {}))) problems.push(`pipeline ${name} uses undefined ${kind}.${id}`);
      }
    }
    if (!(pipeline.receivers?.length && pipeline.exporters?.length)) problems.push(`pipeline ${name} needs receivers and exporters`);
  }
  for (const kind of kinds) {
    for (const id of Object.keys(document[kind] ?? {})) {
      if (!used.has(`${kind}/${id}`) && !(kind === "exporters" && id === "debug")) problems.push(`${kind}.${id} is defined but in no pipeline`);
    }
  }
  for (const id of document?.service?.extensions ?? []) {
    if (!(id in (document.extensions ?? {}))) problems.push(`service uses undefined extensions.${id}`);
  }
  for (const id of Object.keys(document.extensions ?? {})) {
    if (!(document?.service?.extensions ?? []).includes(id)) problems.push(`extensions.${id} is defined but not enabled`);
  }
  if (problems.length) fail(problems.join("; "));
  console.log(`${file}: ${Object.keys(pipelines).length} pipeline(s) wired`);
} else if (command === "vector") {
  // Neither Vector nor `vector validate` is installable here: YAML, and the wiring.
  const problems = [];
  const defined = new Set([...Object.keys(document?.sources ?? {}), ...Object.keys(document?.transforms ?? {})]);
  if (Object.keys(document?.sources ?? {}).length === 0) problems.push("no sources");
  if (Object.keys(document?.sinks ?? {}).length === 0) problems.push("no sinks");
  for (const section of ["transforms", "sinks"]) {
    for (const [name, component] of Object.entries(document?.[section] ?? {})) {
      if (typeof component?.type !== "string") problems.push(`${section}.${name} has no type`);
      for (const input of component?.inputs ?? []) {
        if (!defined.has(input) && !defined.has(input.split(".")[0])) problems.push(`${section}.${name} reads undefined ${input}`);
      }
    }
  }
  if (problems.length) fail(problems.join("; "));
  console.log(`${file}: ${defined.size} source(s) and transform(s) wired`);
} else if (command === "fluent-bit") {
  // Fluent Bit is not installable here either: YAML, and every output fed.
  const problems = [];
  const inputs = document?.pipeline?.inputs ?? [];
  const outputs = document?.pipeline?.outputs ?? [];
  if (inputs.length === 0 || outputs.length === 0) problems.push("pipeline needs inputs and outputs");
  for (const input of inputs) {
    if (!input?.name || !input?.tag) problems.push(`input ${JSON.stringify(input)} needs name and tag`);
  }
  const matches = (pattern, tag) => new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(tag);
  for (const output of outputs) {
    if (!inputs.some((input) => matches(String(output?.match ?? ""), String(input?.tag)))) problems.push(`output ${output?.name} matches no input`);
  }
  if (problems.length) fail(problems.join("; "));
  console.log(`${file}: ${inputs.length} input(s), ${outputs.length} output(s)`);
} else if (command === "replicated") {
  // Three replicas on three nodes, at most one down by a disruption, ready only on
  // /readyz, the PostgreSQL URL from a Secret. Prints the agent container's env as JSON
  // (name -> "value:..." | "secret:NAME/KEY" | "field:PATH") for the config's ${VAR}s.
  const documents = readdirSync(file).filter((name) => name.endsWith(".yaml")).map((name) => yaml.load(readFileSync(join(file, name), "utf8")));
  const of = (kind) => documents.filter((document) => document?.kind === kind);
  const problems = [];
  const [set] = of("StatefulSet");
  if (!set) fail("no StatefulSet");
  const labels = set.spec?.template?.metadata?.labels ?? {};
  const selects = (selector) => Object.entries(selector?.matchLabels ?? {}).length > 0 && Object.entries(selector.matchLabels).every(([key, value]) => labels[key] === value);
  if (set.spec?.replicas !== 3) problems.push(`replicas is ${set.spec?.replicas}, not 3`);
  const spread = set.spec?.template?.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  if (!spread.some((term) => term.topologyKey === "kubernetes.io/hostname" && selects(term.labelSelector))) problems.push("no required pod anti-affinity over kubernetes.io/hostname selecting the pods");
  const budgets = of("PodDisruptionBudget").filter((budget) => selects(budget.spec?.selector));
  if (!budgets.some((budget) => budget.spec?.maxUnavailable === 1 || budget.spec?.minAvailable >= 2)) problems.push("no PodDisruptionBudget keeping two of the pods");
  const agent = (set.spec?.template?.spec?.containers ?? []).find((container) => container.name === "pstn-agent");
  if (!agent) fail("no pstn-agent container");
  if (agent.readinessProbe?.httpGet?.path !== "/readyz") problems.push("the agent's readiness is not /readyz");
  const volumes = set.spec?.template?.spec?.volumes ?? [];
  const configMaps = of("ConfigMap").map((map) => map.metadata?.name);
  for (const volume of volumes.filter((volume) => volume.configMap)) {
    if (!configMaps.includes(volume.configMap.name)) problems.push(`volume ${volume.name} mounts ConfigMap ${volume.configMap.name}, not in ${file}`);
  }
  const env = {};
  for (const variable of agent.env ?? []) {
    const from = variable.valueFrom;
    if (from?.secretKeyRef) {
      if (from.secretKeyRef.optional) problems.push(`${variable.name}: an optional secret`);
      env[variable.name] = `secret:${from.secretKeyRef.name}/${from.secretKeyRef.key}`;
    } else if (from?.fieldRef) env[variable.name] = `field:${from.fieldRef.fieldPath}`;
    else env[variable.name] = `value:${variable.value}`;
  }
  if (problems.length) fail(problems.join("; "));
  process.stdout.write(JSON.stringify(env));
} else {
  fail(`unknown command ${command}`);
}
