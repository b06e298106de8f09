// Parses and binds every KQL query of deploy/sentinel with Microsoft's Kusto language
// service (@kusto/language-service-next, the parser Azure's own editors use) against
// the custom tables' schemas read from azuredeploy.json:
// - each analytics rule's and hunting query's `query`;
// - each DCR data flow's `transformKql`, with `source` = its stream's declared columns,
//   and its result must have exactly the output table's columns, names and types.
// Prints every diagnostic; exits 1 on any error.
//
// usage: node check-kql.mjs [--query KQL]... [TEMPLATE.json]...
//   (no templates: the three beside this file; --query checks one more query, which
//   the tests use to prove that a broken query is caught)
// The package is found in $PSTN_AGENT_NODE_MODULES (.ci/run installs it there).

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = resolve(process.env.PSTN_AGENT_NODE_MODULES || join(here, "../../target/deploy-tools/node_modules"));
const require = createRequire(join(modules, "noop.js"));
require("@kusto/language-service-next/bridge.min.js");
require("@kusto/language-service-next/Kusto.Language.Bridge.min.js");
const K = globalThis.Kusto.Language;

const args = process.argv.slice(2);
const extra = [];
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--query") extra.push(args[++i]);
  else files.push(args[i]);
}
if (files.length === 0) {
  for (const name of ["azuredeploy.json", "analytics-rules.json", "hunting-queries.json"]) files.push(join(here, name));
}
const templates = files.map((file) => ({ file, json: JSON.parse(readFileSync(file, "utf8")) }));
const resources = templates.flatMap(({ file, json }) => (json.resources || []).map((resource) => ({ file, resource })));

// Column types: the Tables API's names and the DCR's, as Kusto types.
const kustoType = (type) => ({ datetime: "datetime", datetimeoffset: "datetime", boolean: "bool", bool: "bool", int: "int", long: "long", real: "real", string: "string", guid: "guid", dynamic: "dynamic" })[type.toLowerCase()];
// Every Log Analytics table also has these.
const standard = [["TenantId", "string"], ["Type", "string"], ["_ResourceId", "string"], ["_SubscriptionId", "string"], ["_ItemId", "string"], ["_IsBillable", "string"], ["_BilledSize", "real"], ["SourceSystem", "string"]];

let errors = 0;
const fail = (message) => { errors++; console.log(`error: ${message}`); };
const schemaText = (columns) => "(" + columns.map(([name, type]) => `['${name}']:${type}`).join(", ") + ")";
const asColumns = (list, where) => list.map(({ name, type }) => {
  const kusto = kustoType(type);
  if (!kusto) fail(`${where}: column ${name} has unknown type ${type}`);
  return [name, kusto || "dynamic"];
});

const tables = new Map();
for (const { resource } of resources.filter(({ resource }) => resource.type === "Microsoft.OperationalInsights/workspaces/tables")) {
  const schema = resource.properties.schema;
  tables.set(schema.name, asColumns(schema.columns, `table ${schema.name}`));
}
if (tables.size === 0) fail("no custom tables found in the templates");
const tableSymbols = [...tables].map(([name, columns]) => new K.Symbols.TableSymbol.$ctor7(name, schemaText([...columns, ...standard]), null));
const globals = K.GlobalState.Default.WithDatabase(new K.Symbols.DatabaseSymbol.ctor("workspace", tableSymbols));

function analyze(what, query, state) {
  const code = K.KustoCode.ParseAndAnalyze(query, state);
  const diagnostics = code.GetDiagnostics();
  let failed = false;
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i);
    const line = query.slice(0, d.Start).split("\n").length;
    console.log(`${String(d.Severity).toLowerCase()}: ${what}: line ${line}: ${d.Code}: ${d.Message} [${query.substr(d.Start, Math.max(d.Length, 1))}]`);
    if (String(d.Severity) === "Error") { errors++; failed = true; }
  }
  return failed ? null : code;
}

let checked = 0;
for (const { file, resource } of resources) {
  const name = resource.properties?.displayName || resource.name;
  if (typeof resource.properties?.query === "string") {
    analyze(`${file}: ${name}`, resource.properties.query, globals);
    checked++;
  }
  if (resource.type !== "Microsoft.Insights/dataCollectionRules") continue;
  const declarations = resource.properties.streamDeclarations;
  for (const flow of resource.properties.dataFlows) {
    const [stream] = flow.streams;
    const where = `${file}: DCR data flow ${stream}`;
    const declared = declarations[stream];
    if (!declared) { fail(`${where}: the stream is not declared`); continue; }
    const source = new K.Symbols.TableSymbol.$ctor7("source", schemaText(asColumns(declared.columns, where)), null);
    const state = K.GlobalState.Default.WithDatabase(new K.Symbols.DatabaseSymbol.ctor("dcr", [source]));
    const code = analyze(where, flow.transformKql, state);
    checked++;
    const table = (flow.outputStream || "").replace(/^Custom-/, "");
    const expected = tables.get(table);
    if (!expected) { fail(`${where}: output stream ${flow.outputStream} names no table of the templates`); continue; }
    if (!code) continue;
    const result = code.ResultType;
    const got = [];
    for (let i = 0; i < result.Columns.Count; i++) {
      const column = result.Columns.getItem(i);
      got.push([column.Name, column.Type.Name]);
    }
    const show = (columns) => columns.map(([n, t]) => `${n}:${t}`).sort().join(", ");
    if (show(got) !== show(expected)) {
      fail(`${where}: the transform's result differs from table ${table}\n  result: ${show(got)}\n  table:  ${show(expected)}`);
    }
  }
}
extra.forEach((query, index) => { analyze(`--query ${index + 1}`, query, globals); checked++; });
console.log(`${checked} queries checked against ${tables.size} tables (${[...tables.keys()].join(", ")}): ${errors} error(s)`);
process.exit(errors === 0 && checked > 0 ? 0 : 1);
