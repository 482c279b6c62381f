// SPDX-License-Identifier: MIT
// The reference interpreter of bench/run's workflow suite: aws-local-stepfunctions running the
// same 10-state Pass/Choice machine as build/bench/sfnbench, N executions one after another.
//   node bench/sfn_reference.mjs PEERS_DIR DEFINITION_JSON INPUT_JSON N
// Prints {"executions", "transitions", "seconds", "cpu_seconds", "version"}.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { readFileSync } from 'node:fs';

// aws-local-stepfunctions 3 asks for Node 22; Promise.withResolvers is what it needs from it.
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((a, b) => { resolve = a; reject = b; });
    return { promise, resolve, reject };
  };
}

const [peers, defText, inputText, nText] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(peers), 'package.json'));
const entry = require.resolve('aws-local-stepfunctions');
const mod = await import(pathToFileURL(entry).href);
const { StateMachine } = mod.StateMachine ? mod : mod.default;
const version = JSON.parse(readFileSync(path.join(path.resolve(peers), 'node_modules',
  'aws-local-stepfunctions', 'package.json'), 'utf8')).version;
const def = JSON.parse(defText);
const input = JSON.parse(inputText);
const n = Number(nText);
const sm = new StateMachine(def, { validationOptions: { checkPaths: false } });
// Warm up, then measure.
for (let i = 0; i < Math.min(200, n); i++) await sm.run(input).result;
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
let transitions = 0;
for (let i = 0; i < n; i++) {
  const out = await sm.run(input).result;
  if (!out) throw new Error('no output');
  transitions += 10;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(c0);
console.log(JSON.stringify({ executions: n, transitions, seconds,
  cpu_seconds: (cpu.user + cpu.system) / 1e6, version }));
