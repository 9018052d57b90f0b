#!/usr/bin/env node
// Agreement check: the tree-sitter parser rejects an input (an ERROR or
// MISSING node) exactly when `ward check` reports E001 (syntax) for it.
//
// Inputs whose only E001 is the nesting bound (more than 64 brackets, see
// test/nesting/) are skipped: tree-sitter has no such limit.
//
// Inputs: every .ward file in the repository (rules/, tests/, this grammar's
// own test files), every ```ward block of spec/language.md and
// spec/diagnostics.md, the input of every corpus test, the deliberately
// malformed files in test/reject/ (which both must reject) and the tricky
// but valid files in test/accept/ (which both must accept).
//
// test/divergent/*.ward are inputs on which the two are known to disagree
// because of a quirk of ward.pest (README.md, "Known differences"); they are
// checked to still disagree, so a fix to the pest grammar shows up here.
//
// Usage: node scripts/agreement.js   (WARD_BIN overrides /tmp/ward-bin,
// TREE_SITTER overrides `tree-sitter`)

'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const here = path.resolve(__dirname, '..');
const repo = path.resolve(here, '..', '..');
const wardBin = process.env.WARD_BIN || '/tmp/ward-bin';
const treeSitter = process.env.TREE_SITTER || 'tree-sitter';

if (!fs.existsSync(wardBin)) {
  console.error(`agreement: ward binary not found at ${wardBin} (set WARD_BIN)`);
  process.exit(2);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-agreement-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

/** @type {{label: string, file: string, expect?: string}[]} */
const inputs = [];
let counter = 0;

function addText(label, text, expect) {
  const file = path.join(work, `${String(counter++).padStart(4, '0')}.ward`);
  fs.writeFileSync(file, text);
  inputs.push({ label, file, expect });
}

// 1. .ward files in the repository.
function walk(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (['.git', 'target', 'node_modules'].includes(entry.name)) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else if (entry.isFile() && entry.name.endsWith('.ward')) out.push(p);
  }
  return out;
}
for (const file of walk(repo, []).sort()) {
  const rel = path.relative(repo, file);
  const inGrammar = path.relative(here, file);
  let expect;
  if (inGrammar.startsWith(`test${path.sep}accept${path.sep}`)) expect = 'accept';
  if (inGrammar.startsWith(`test${path.sep}reject${path.sep}`)) expect = 'reject';
  if (inGrammar.startsWith(`test${path.sep}divergent${path.sep}`)) expect = 'divergent';
  addText(rel, fs.readFileSync(file, 'utf8'), expect);
}

// 2. ```ward blocks of the specs (the same extraction as tests/docs.rs).
for (const doc of ['spec/language.md', 'spec/diagnostics.md']) {
  const lines = fs.readFileSync(path.join(repo, doc), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(.*)$/.exec(lines[i]);
    if (!m) continue;
    const info = m[1].trim();
    const start = i + 1;
    let body = '';
    for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body += lines[i] + '\n';
    if (info === 'ward' || info.startsWith('ward ')) addText(`${doc}:${start} (${info})`, body);
  }
}

// 3. Corpus test inputs: `===` header, name, `===`, input, `---`, tree.
const corpusDir = path.join(here, 'test', 'corpus');
for (const name of fs.readdirSync(corpusDir).filter(n => n.endsWith('.txt')).sort()) {
  const text = fs.readFileSync(path.join(corpusDir, name), 'utf8');
  const re = /^(={3,})\n([\s\S]*?)\n\1\n([\s\S]*?)\n-{3,}\n/gm;
  let m;
  while ((m = re.exec(text))) {
    const [title, ...attributes] = m[2].trim().split('\n');
    const expect = attributes.some(a => a.trim() === ':error') ? 'reject' : undefined;
    addText(`test/corpus/${name}: ${title}`, m[3] + '\n', expect);
  }
}

// Ward's verdict: E001, or not; and whether E001 is only the nesting bound.
function ward(file) {
  const r = spawnSync(wardBin, ['check', '--format', 'json', file], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) {
    throw new Error(`${wardBin} check ${file}: exit ${r.status}\n${r.stderr}`);
  }
  const report = JSON.parse(r.stdout);
  const syntax = report.diagnostics.filter(d => d.code === 'E001');
  return {
    rejects: syntax.length > 0,
    tooDeep: syntax.length > 0 && syntax.every(d => /nested too deeply/.test(d.message)),
  };
}

// tree-sitter's verdict for every input in one run.
const list = path.join(work, 'paths.txt');
fs.writeFileSync(list, inputs.map(i => i.file).join('\n') + '\n');
const ts = spawnSync(treeSitter, ['parse', '-p', here, '-q', '--json-summary', '--paths', list], {
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
const start = ts.stdout.indexOf('{\n');
if (start < 0) {
  console.error(`agreement: tree-sitter parse gave no summary\n${ts.stderr}`);
  process.exit(2);
}
const summary = JSON.parse(ts.stdout.slice(start));
const tsOk = new Map(summary.parse_summaries.map(s => [path.resolve(s.file), s.successful]));

const failures = [];
let agreeAccept = 0;
let agreeReject = 0;
let skipped = 0;
let divergent = 0;
for (const input of inputs) {
  const w = ward(input.file);
  if (w.tooDeep) {
    skipped++;
    continue;
  }
  const ok = tsOk.get(path.resolve(input.file));
  if (ok === undefined) {
    failures.push(`${input.label}: no tree-sitter result`);
    continue;
  }
  const tsRejects = !ok;
  const verdict = `ward ${w.rejects ? 'E001' : 'accepts'}, tree-sitter ${tsRejects ? 'ERROR/MISSING' : 'accepts'}`;
  if (input.expect === 'divergent') {
    if (w.rejects === tsRejects) {
      failures.push(`${input.label}: listed as a known difference but the parsers now agree (${verdict}); move it to test/reject or drop it and update README.md`);
    } else {
      divergent++;
    }
    continue;
  }
  if (w.rejects !== tsRejects) {
    failures.push(`${input.label}: ${verdict}`);
  } else if (input.expect === 'reject' && !w.rejects) {
    failures.push(`${input.label}: expected both to reject, but both accept`);
  } else if (input.expect === 'accept' && w.rejects) {
    failures.push(`${input.label}: expected both to accept, but both reject`);
  } else if (w.rejects) {
    agreeReject++;
  } else {
    agreeAccept++;
  }
}

console.log(
  `agreement: ${inputs.length} inputs: ${agreeAccept} accepted by both, ${agreeReject} rejected by both, ` +
    `${divergent} known differences, ${skipped} skipped (nesting bound), ${failures.length} disagreements`,
);
if (failures.length) {
  for (const f of failures) console.log(`  FAIL ${f}`);
  process.exit(1);
}
