// The Ward extension's client side: it starts `ward lsp` for .ward files
// (diagnostics as you type, hover, completion, definitions, references,
// formatting, quick fixes). Highlighting is the TextMate grammar in
// syntaxes/. The `ward.path` setting names the binary (default: `ward` on
// the PATH).
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function serverOptions() {
  const command = vscode.workspace.getConfiguration('ward').get('path') || 'ward';
  return { command, args: ['lsp'] };
}

function clientOptions() {
  return {
    documentSelector: [{ scheme: 'file', language: 'ward' }],
  };
}

function activate(context) {
  client = new LanguageClient('ward', 'Ward', serverOptions(), clientOptions());
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate, serverOptions, clientOptions };
