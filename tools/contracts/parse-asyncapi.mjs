// Parse an AsyncAPI document with @asyncapi/parser and print its diagnostics as JSON.
// Usage: node parse-asyncapi.mjs [PATH]  (default: shared/events/contracts/asyncapi.json)
// Exit status: 0 when no diagnostic has severity error, 1 otherwise, 2 when it cannot run.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Parser } from "@asyncapi/parser";

// Spectral's DiagnosticSeverity numbering.
const SEVERITIES = ["error", "warning", "information", "hint"];

const here = path.dirname(fileURLToPath(import.meta.url));
const target = path.resolve(
  process.argv[2] ?? path.join(here, "..", "..", "shared", "events", "contracts", "asyncapi.json"),
);

try {
  const text = await readFile(target, "utf8");
  // `source` lets the parser resolve the document's relative schema $refs.
  const { document, diagnostics } = await new Parser().parse(text, { source: target });
  const reported = diagnostics.map((d) => ({
    severity: SEVERITIES[d.severity] ?? String(d.severity),
    code: d.code,
    message: d.message,
    path: d.path,
  }));
  const errors = reported.filter((d) => d.severity === "error").length;
  const warnings = reported.filter((d) => d.severity === "warning").length;
  const summary = { document: target, parsed: document !== undefined, errors, warnings, diagnostics: reported };
  process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  process.exit(errors > 0 || document === undefined ? 1 : 0);
} catch (error) {
  process.stderr.write(`cannot parse ${target}: ${error}\n`);
  process.exit(2);
}
