// Parse LogQL with Grafana's own grammar (@grafana/lezer-logql, the one Grafana's
// Loki query editor uses). stdin: a JSON array of LogQL strings. stdout: a JSON
// array, same order, of null (parsed clean) or a string saying where the first
// problem is. Used by tests/logql.py; see parse_errors there.
//
// lezer never throws on bad input: it recovers, and marks what it skipped or
// had to insert with error nodes (type.isError, "⚠"). So a query is clean when
// its tree has no error node and its top node (the grammar's @top rule, LogQL,
// which takes a log or a metric expression) spans the whole input with exactly
// one expression under it.
import { parser } from "@grafana/lezer-logql";

const CONTEXT = 20;

function around(text, from, to) {
  const start = Math.max(0, from - CONTEXT);
  const end = Math.min(text.length, Math.max(to, from) + CONTEXT);
  const before = text.slice(start, from);
  const at = text.slice(from, Math.max(to, from));
  const after = text.slice(Math.max(to, from), end);
  return (start > 0 ? "…" : "") + before + "⟨" + at + "⟩" + after + (end < text.length ? "…" : "");
}

function problem(text) {
  if (typeof text !== "string") return `not a string: ${JSON.stringify(text)}`;
  if (text.trim() === "") return "empty query";
  const tree = parser.parse(text);
  if (tree.type.name !== "LogQL" || tree.length !== text.length) {
    return `top node ${tree.type.name} covers 0..${tree.length} of ${text.length} characters`;
  }
  let found = null;
  tree.iterate({
    enter(node) {
      if (found) return false;
      if (node.type.isError) {
        const what = node.from === node.to
          ? (node.from === text.length ? "unexpected end of query" : "something missing")
          : "unexpected text";
        // offsets in code points, as Python counts them (lezer counts UTF-16 units)
        found = `offset ${[...text.slice(0, node.from)].length}: ${what}: ${around(text, node.from, node.to)}`;
        return false;
      }
      return undefined;
    },
  });
  if (found) return found;
  const top = tree.topNode;
  const exprs = [];
  for (let c = top.firstChild; c; c = c.nextSibling) if (c.name !== "LineComment") exprs.push(c);
  if (exprs.length !== 1 || exprs[0].name !== "Expr") {
    return `expected one expression under LogQL, found: ${exprs.map((c) => c.name).join(", ") || "none"}`;
  }
  return null;
}

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
let exprs;
try {
  exprs = JSON.parse(input);
} catch (e) {
  process.stderr.write(`check.mjs: stdin is not JSON: ${e.message}\n`);
  process.exit(2);
}
if (!Array.isArray(exprs)) {
  process.stderr.write("check.mjs: stdin must be a JSON array of strings\n");
  process.exit(2);
}
process.stdout.write(JSON.stringify(exprs.map(problem)) + "\n");
