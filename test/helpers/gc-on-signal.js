// Preloaded into CLI nodes by memory tests (NODE_OPTIONS=--require): SIGUSR2 runs a full garbage collection, so
// a test can measure RSS "after the garbage is collected" instead of whenever V8 next decides to collect.
'use strict';
const v8 = require('node:v8');
const vm = require('node:vm');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
process.on('SIGUSR2', () => {
  gc();
  process.stderr.write('gc-on-signal: collected\n');
});
