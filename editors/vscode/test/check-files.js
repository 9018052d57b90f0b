#!/usr/bin/env node
// Tokenizes real Ward text with the TextMate grammar and fails on anything
// unexpected: a token scoped `invalid.*` or as an unknown metadata key, or a
// non-blank character that no pattern claimed (its scopes are only
// `source.ward` and `meta.*`).
//
// Checked by default: every rules/**/*.ward file of the repository and every
// ```ward block of spec/language.md and README.md (each is a complete, valid
// file).
//
//   node test/check-files.js                 check the default set
//   node test/check-files.js FILE...         check these files instead
//   node test/check-files.js --dump FILE...  print each token with its scopes
'use strict';

const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const here = __dirname;
const repo = path.resolve(here, '..', '..', '..');
const grammarPath = path.join(here, '..', 'syntaxes', 'ward.tmLanguage.json');

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.ward') return null;
      return vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath);
    },
  });
  return registry.loadGrammar('source.ward');
}

function tokenize(grammar, text) {
  const out = [];
  let stack = vsctm.INITIAL;
  text.split('\n').forEach((line, i) => {
    const r = grammar.tokenizeLine(line, stack);
    for (const t of r.tokens) {
      out.push({ line: i + 1, col: t.startIndex + 1, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
    }
    stack = r.ruleStack;
  });
  return out;
}

function problems(tokens) {
  const found = [];
  for (const t of tokens) {
    // An unknown metadata key in a real rule file most likely means a line of
    // a condition was read as metadata.
    const invalid = t.scopes.find((s) => s.startsWith('invalid.') || s.startsWith('entity.other.attribute-name.metadata.'));
    const claimed = t.scopes.some((s) => s !== 'source.ward' && !s.startsWith('meta.'));
    if (invalid) {
      found.push(`${t.line}:${t.col}: ${JSON.stringify(t.text)} is ${invalid}`);
    } else if (!claimed && t.text.trim() !== '') {
      found.push(`${t.line}:${t.col}: ${JSON.stringify(t.text)} is not highlighted (${t.scopes.join(' ')})`);
    }
  }
  return found;
}

function walk(dir) {
  const files = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) files.push(...walk(p));
    else if (e.name.endsWith('.ward')) files.push(p);
  }
  return files;
}

// Markdown files whose ```ward blocks are complete, valid files.
const MARKDOWN = ['spec/language.md', 'README.md'];

function markdownBlocks() {
  const blocks = [];
  for (const rel of MARKDOWN) {
    const file = path.join(repo, rel);
    if (!fs.existsSync(file)) continue;
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].trim() === '```ward') {
        const start = i + 2;
        const body = [];
        for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push(lines[i]);
        blocks.push({ name: rel, text: body.join('\n'), offset: start - 1 });
      }
    }
  }
  return blocks;
}

async function main() {
  const args = process.argv.slice(2);
  const dump = args[0] === '--dump';
  if (dump) args.shift();
  const grammar = await loadGrammar();

  if (dump) {
    for (const f of args) {
      for (const t of tokenize(grammar, fs.readFileSync(f, 'utf8'))) {
        if (t.text.trim() === '') continue;
        console.log(`${t.line}:${t.col}\t${JSON.stringify(t.text)}\t${t.scopes.slice(1).join(' ')}`);
      }
    }
    return;
  }

  let inputs;
  if (args.length > 0) {
    inputs = args.map((f) => ({ name: f, text: fs.readFileSync(f, 'utf8'), offset: 0 }));
  } else {
    const rulesDir = path.join(repo, 'rules');
    const files = walk(rulesDir);
    if (files.length === 0) {
      console.error(`no .ward files under ${rulesDir}`);
      process.exit(1);
    }
    inputs = files.map((f) => ({ name: path.relative(repo, f), text: fs.readFileSync(f, 'utf8'), offset: 0 }));
    inputs.push(...markdownBlocks());
  }

  let bad = 0;
  let lines = 0;
  for (const input of inputs) {
    lines += input.text.split('\n').length;
    for (const p of problems(tokenize(grammar, input.text))) {
      // Report a block's positions as lines of its markdown file.
      const shown = `${input.name}:${input.offset ? p.replace(/^(\d+)/, (n) => String(Number(n) + input.offset)) : p}`;
      console.error(shown);
      bad++;
    }
  }
  const files = inputs.filter((i) => !i.offset).length;
  const blocks = inputs.length - files;
  console.log(`check-files: ${files} files, ${blocks} markdown blocks, ${lines} lines tokenized, ${bad} problems`);
  process.exit(bad === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
