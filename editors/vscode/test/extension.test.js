// The extension starts `ward lsp` (or the binary `ward.path` names) for
// .ward files. `vscode` exists only inside the editor, so it is stubbed,
// and so is the client, to see what the extension asks of it.
'use strict';

const assert = require('assert');
const Module = require('module');

let setting;
const started = [];
class FakeClient {
  constructor(id, name, server, client) {
    Object.assign(this, { id, name, server, client });
  }
  start() { started.push(this); return Promise.resolve(); }
  stop() { return Promise.resolve(); }
}
const stubs = {
  vscode: { workspace: { getConfiguration: (s) => ({ get: (k) => (s === 'ward' && k === 'path' ? setting : undefined) }) } },
  'vscode-languageclient/node': { LanguageClient: FakeClient },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return request in stubs ? stubs[request] : load.call(this, request, ...rest);
};

// The real client module loads (its dependency is installed and pinned).
assert.ok(require.resolve('vscode-languageclient/node'));

const ext = require('../extension.js');
const subscriptions = [];
ext.activate({ subscriptions });
assert.strictEqual(started.length, 1);
assert.deepStrictEqual(started[0].server, { command: 'ward', args: ['lsp'] });
assert.deepStrictEqual(started[0].client.documentSelector, [{ scheme: 'file', language: 'ward' }]);
assert.strictEqual(subscriptions.length, 1);

setting = '/opt/ward/bin/ward';
assert.deepStrictEqual(ext.serverOptions(), { command: '/opt/ward/bin/ward', args: ['lsp'] });

const pkg = require('../package.json');
assert.strictEqual(pkg.main, './extension.js');
assert.ok(pkg.activationEvents.includes('onLanguage:ward'));
console.log('extension tests passed');
