// Bootstrap program for script/javascript (docs/flows.md §10.7).
//
// Started as `node _javascript_bootstrap.js <request fd> <result fd>` by the executor's
// actions/script/_function.py. The request fd holds {"code", "inputs"} as JSON. The code becomes
// the body of an async function (so a top-level `return` and `await` work) with `inputs`,
// `outputs` and `require` in scope. console.log/info/debug lines go to stdout as they are,
// console.warn/error lines with "[warn] " / "[error] " prefixes; the executor captures them as
// `logs`. The result travels over the result fd, never stdout:
// {"ok": true, "outputs": {...}, "returned": <value>} or {"ok": false, "error": "<Type>: <msg>"}.
'use strict';

const fs = require('fs');

const requestFd = Number(process.argv[2]);
const resultFd = Number(process.argv[3]);

function writeAll(fd, text) {
  let data = Buffer.from(text, 'utf8');
  while (data.length > 0) {
    try {
      const written = fs.writeSync(fd, data);
      data = data.subarray(written);
    } catch (err) {
      // stdout may have been switched to non-blocking mode by the user's own writes.
      if (err.code !== 'EAGAIN') throw err;
    }
  }
}

function renderLogArgument(value) {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'undefined';
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text;
  } catch (err) {
    // circular or BigInt: fall back to String()
  }
  return String(value);
}

function logWriter(prefix) {
  return (...args) => writeAll(1, prefix + args.map(renderLogArgument).join(' ') + '\n');
}

console.log = logWriter('');
console.info = logWriter('');
console.debug = logWriter('');
console.warn = logWriter('[warn] ');
console.error = logWriter('[error] ');

// Values JSON cannot hold are sent as their String() (docs/flows.md §10.7 step 7).
function jsonReplacer(key, value) {
  if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') {
    return String(value);
  }
  return value;
}

function describeError(err) {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return `Error: ${renderLogArgument(err)}`;
}

async function run(request) {
  const outputs = {};
  try {
    const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
    const body = new AsyncFunction('inputs', 'outputs', 'require', request.code);
    let returned = await body(request.inputs, outputs, require);
    if (returned === undefined) returned = null;
    return JSON.stringify({ ok: true, outputs, returned }, jsonReplacer);
  } catch (err) {
    return JSON.stringify({ ok: false, error: describeError(err) });
  }
}

const request = JSON.parse(fs.readFileSync(requestFd, 'utf8'));
run(request).then((payload) => {
  writeAll(resultFd, payload);
  // Timers or sockets the script left open must not keep the node running.
  process.exit(0);
});
