#!/usr/bin/env node
// Mutation check: derives malformed and odd-but-valid inputs from the valid
// ones (the corpus, the highlight test, rules/, the site layer tests/site/)
// by deleting, inserting, replacing and swapping tokens, and checks that
// tree-sitter and `ward check` agree on each (ERROR/MISSING exactly when
// E001), as scripts/agreement.js does for the fixed inputs.
//
// Deterministic: a fixed seed (MUTANT_SEED, default 1) and count
// (MUTANT_COUNT, default 1000). Every mutant is compared: since ward.pest
// reads item and clause keywords as whole words, gluing one onto a name
// (`sourcex`, `whena`, a step `not1:`) is no longer a known difference.
//
// Usage: node scripts/mutants.js   (WARD_BIN, TREE_SITTER as agreement.js)

'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const here = path.resolve(__dirname, '..');
const repo = path.resolve(here, '..', '..');
const wardBin = process.env.WARD_BIN || '/tmp/ward-bin';
const treeSitter = process.env.TREE_SITTER || 'tree-sitter';
const count = Number(process.env.MUTANT_COUNT || 1000);
let seed = Number(process.env.MUTANT_SEED || 1) >>> 0;

// mulberry32
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = xs => xs[Math.floor(random() * xs.length)];

function walk(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.ward')) out.push(p);
  }
  return out;
}

const seeds = [];
// tests/site/ holds the `extend list`s of the example site layer.
const seedDirs = [path.join(repo, 'rules'), path.join(repo, 'tests', 'site'), path.join(here, 'test', 'highlight')];
for (const f of seedDirs.filter(d => fs.existsSync(d)).flatMap(d => walk(d, [])).sort()) {
  seeds.push(fs.readFileSync(f, 'utf8'));
}
const corpusDir = path.join(here, 'test', 'corpus');
for (const name of fs.readdirSync(corpusDir).sort()) {
  const text = fs.readFileSync(path.join(corpusDir, name), 'utf8');
  const re = /^(={3,})\n([\s\S]*?)\n\1\n([\s\S]*?)\n-{3,}\n/gm;
  let m;
  while ((m = re.exec(text))) if (!m[2].includes(':error')) seeds.push(m[3] + '\n');
}

const tokenRe = /r"[^"]*"|"(?:\\.|[^"\\\n])*"|#[^\n]*|[A-Za-z_][\w.\-]*|-?\d+(?:\.\d+)?[a-z]*|==|!=|<=|>=|\S|\s+/g;
const extra = [
  'not', 'in', 'by', 'within', 'until', 'source', 'rule', 'when', 'and', 'or', 'cidr', 'is',
  'null', 'exists', 'any', 'all', ':', ',', '.', '[', ']', '(', ')', '{', '}', '"x"', '5m', '5',
  '-1', '1.5', 'x', 'a.b', '#c\n', '\n', 'contains', 'distinct', 'count', 'sequence', 'output',
  'except', 'r"z"', 'true', '_', 'a[0]', '."q"', 'true-x', '\\', '"',
  'list', 'fill', 'extend', 'macro', '=', 'override', 'tune', 'rule r {', 'severity low',
];

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-mutants-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const files = [];
for (let i = 0; i < count; i++) {
  let toks = pick(seeds).match(tokenRe) || ['x'];
  const edits = 1 + Math.floor(random() * 3);
  for (let e = 0; e < edits; e++) {
    const k = Math.floor(random() * toks.length);
    const op = random();
    if (op < 0.35) toks.splice(k, 1);
    else if (op < 0.6) toks.splice(k, 0, pick(extra) + pick(['', ' ']));
    else if (op < 0.8) toks[k] = pick(extra);
    else {
      const j = Math.floor(random() * toks.length);
      [toks[k], toks[j]] = [toks[j], toks[k]];
    }
    if (toks.length === 0) toks = ['x'];
  }
  const file = path.join(work, `${String(i).padStart(5, '0')}.ward`);
  fs.writeFileSync(file, toks.join(''));
  files.push(file);
}

const list = path.join(work, 'paths.txt');
fs.writeFileSync(list, files.join('\n') + '\n');
const ts = spawnSync(treeSitter, ['parse', '-p', here, '-q', '--json-summary', '--paths', list], {
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
const at = ts.stdout.indexOf('{\n');
if (at < 0) {
  console.error(`mutants: tree-sitter parse gave no summary\n${ts.stderr}`);
  process.exit(2);
}
const tsOk = new Map(JSON.parse(ts.stdout.slice(at)).parse_summaries.map(s => [path.resolve(s.file), s.successful]));

let compared = 0;
let skipped = 0;
const failures = [];
for (const file of files) {
  const r = spawnSync(wardBin, ['check', '--format', 'json', file], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`${wardBin} check ${file}: exit ${r.status}\n${r.stderr}`);
  const syntax = JSON.parse(r.stdout).diagnostics.filter(d => d.code === 'E001');
  if (syntax.length && syntax.every(d => /nested too deeply/.test(d.message))) {
    skipped++;
    continue;
  }
  const wardRejects = syntax.length > 0;
  const tsRejects = !tsOk.get(path.resolve(file));
  if (wardRejects === tsRejects) {
    compared++;
    continue;
  }
  const text = fs.readFileSync(file, 'utf8');
  failures.push({ text, verdict: `ward ${wardRejects ? 'E001' : 'accepts'}, tree-sitter ${tsRejects ? 'ERROR/MISSING' : 'accepts'}` });
}

console.log(
  `mutants: ${count} (seed ${process.env.MUTANT_SEED || 1}): ${compared} agree, ` +
    `${skipped} skipped (nesting bound), ${failures.length} disagreements`,
);
for (const f of failures.slice(0, 10)) {
  console.log(`  FAIL ${f.verdict}:\n${f.text.replace(/^/gm, '    | ')}`);
}
process.exit(failures.length ? 1 : 0);
