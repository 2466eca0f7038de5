// Type-check rendered Grafana dashboards against the pinned Grafana's own model:
// @grafana/schema (the TypeScript types Grafana publishes of its dashboard JSON and of
// every panel plugin's options), with the TypeScript compiler: the dashboard by the raw
// model generated from Grafana's CUE schema (the veneer the frontend uses on top of it
// only loosens it), each panel by its plugin's generated types. argv: dashboard JSON
// files. stdout: a JSON array of problems, each "FILE: where: what" (empty: all clean).
// Used by tests/grafana_schema.py.
//
// Each dashboard becomes a TypeScript module in memory in which the dashboard itself
// and every panel are object literals assigned to their types, so TypeScript's
// excess-property check turns an unknown key into an error and a missing required
// key or a wrong value type into another. A panel is typed by its plugin: its
// `options` by that plugin's Options, its `fieldConfig.defaults.custom` (and every
// `custom.*` override) by the plugin's FieldConfig. Enum-typed fields take the enum's
// values as JSON has them (Plain<T> below).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const HERE = dirname(fileURLToPath(import.meta.url));
const RAW = "@grafana/schema/dist/esm/raw/composable";

// panel type -> [import path, has a FieldConfig (custom) type]
const PLUGINS = {
  timeseries: ["timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen", true],
  stat: ["stat/panelcfg/x/StatPanelCfg_types.gen", false],
  gauge: ["gauge/panelcfg/x/GaugePanelCfg_types.gen", false],
  bargauge: ["bargauge/panelcfg/x/BarGaugePanelCfg_types.gen", false],
  table: ["table/panelcfg/x/TablePanelCfg_types.gen", true],
  logs: ["logs/panelcfg/x/LogsPanelCfg_types.gen", false],
  text: ["text/panelcfg/x/TextPanelCfg_types.gen", false],
  heatmap: ["heatmap/panelcfg/x/HeatmapPanelCfg_types.gen", true],
};

const PRELUDE = `
import type * as S from "@grafana/schema/dist/esm/raw/dashboard/x/Dashboard_types.gen";
${Object.entries(PLUGINS).map(([name, [path]]) => `import type * as P_${name} from "${RAW}/${path}";`).join("\n")}

// JSON has an enum's values, not its members: string enums become their string literals,
// numeric enums their number literals; everything else is walked as it is.
type Plain<T> =
  T extends string ? \`\${T}\` :
  T extends number ? (\`\${T}\` extends \`\${infer N extends number}\` ? N : never) :
  T extends boolean | null | undefined ? T :
  T extends Array<infer U> ? Array<Plain<U>> :
  T extends object ? { [K in keyof T]: Plain<T[K]> } :
  T;

type Dashboard = Plain<Omit<S.Dashboard, "panels">> & { panels: Array<unknown> };
type Row = Plain<Omit<S.RowPanel, "panels">> & { panels: Array<unknown> };
type Overrides = Plain<S.FieldConfigSource["overrides"]>;
type PanelOf<O, C> = Plain<Omit<S.Panel, "options" | "fieldConfig">> & {
  options: Plain<O>;
  fieldConfig: { defaults: Plain<Omit<S.FieldConfig, "custom">> & { custom?: Plain<C> }; overrides: Overrides };
};
type NoCustom = { [key: string]: never };
`;

function typeOf(type) {
  const [, custom] = PLUGINS[type];
  return `PanelOf<P_${type}.Options, ${custom ? `P_${type}.FieldConfig` : "NoCustom"}>`;
}

// One dashboard -> [TypeScript source, line -> where it is (for messages)].
function module(dashboard) {
  const lines = PRELUDE.split("\n");
  const where = [];
  const emit = (label, type, value) => {
    const start = lines.length;
    const text = `export const v${lines.length}: ${type} = ${JSON.stringify(value, null, 1)};`.split("\n");
    lines.push(...text);
    for (let i = 0; i < text.length; i++) where[start + i] = label;
  };
  const panels = [];
  for (const p of dashboard.panels ?? []) {
    panels.push(p);
    if (p.type === "row") panels.push(...(p.panels ?? []));
  }
  emit("dashboard", "Dashboard", { ...dashboard, panels: [] });
  for (const p of panels) {
    const label = `panel ${p.id} ${JSON.stringify(p.title)} (${p.type})`;
    if (p.type === "row") {
      emit(label, "Row", { ...p, panels: [] });
    } else if (!(p.type in PLUGINS)) {
      where.unknown = (where.unknown ?? []).concat(`${label}: no types known for panel type ${p.type}`);
    } else {
      emit(label, typeOf(p.type), p);
      const [, custom] = PLUGINS[p.type];
      for (const [i, o] of (p.fieldConfig?.overrides ?? []).entries()) {
        for (const prop of o.properties ?? []) {
          if (!prop.id.startsWith("custom.")) continue;
          const key = prop.id.slice("custom.".length);
          emit(`${label} override ${i} ${prop.id}`,
               custom ? `NonNullable<Plain<P_${p.type}.FieldConfig>[${JSON.stringify(key)}]>` : "never",
               prop.value);
        }
      }
    }
  }
  return [lines.join("\n"), where];
}

const files = process.argv.slice(2);
const sources = new Map();   // virtual path -> [file, source, where]
files.forEach((file, i) => {
  const [source, where] = module(JSON.parse(readFileSync(file, "utf8")));
  sources.set(join(HERE, `dashboard${i}.ts`), [file, source, where]);
});

const options = { strict: true, noEmit: true, module: ts.ModuleKind.ESNext,
                  moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022,
                  skipLibCheck: true, types: [] };
const host = ts.createCompilerHost(options);
const { getSourceFile, fileExists, readFile } = host;
host.fileExists = (f) => sources.has(f) || fileExists(f);
host.readFile = (f) => (sources.has(f) ? sources.get(f)[1] : readFile(f));
host.getSourceFile = (f, lang, ...rest) =>
  sources.has(f) ? ts.createSourceFile(f, sources.get(f)[1], lang) : getSourceFile(f, lang, ...rest);
const program = ts.createProgram([...sources.keys()], options, host);

const problems = [];
for (const [, [file, , where]] of sources) problems.push(...(where.unknown ?? []).map((m) => `${file}: ${m}`));
for (const d of ts.getPreEmitDiagnostics(program)) {
  const text = ts.flattenDiagnosticMessageText(d.messageText, "\n  ");
  if (!d.file || !sources.has(d.file.fileName)) {
    problems.push(`(types): ${text}`);
    continue;
  }
  const [file, source, where] = sources.get(d.file.fileName);
  const { line } = d.file.getLineAndCharacterOfPosition(d.start);
  problems.push(`${file}: ${where[line] ?? "prelude"}: ${source.split("\n")[line].trim()}: ${text}`);
}
process.stdout.write(JSON.stringify(problems) + "\n");
