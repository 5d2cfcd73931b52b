// The worker thread of a `function` module (function.ts starts it). The module's source is
// evaluated with node:vm in a fresh context: it sees the JavaScript built-ins and `log(...)`, not
// Node's `process`, `require` or the file system, and samples are copied into that context.
// This is isolation for mistakes, not a security sandbox: code that sets out to reach the worker's
// realm can. What keeps a function in its place is elsewhere: the worker's heap limit, the per-call
// time limit enforced from the agent's thread, and the module's permissions, which gate every
// metric, event and actuation the agent accepts from it.
//
// Messages in: {type:'call', id, sample} | {type:'ping', id}. Out: {type:'ready'} |
// {type:'refused', message} | {type:'result', id, out} | {type:'error', id, message} |
// {type:'pong', id} | {type:'log', message}.

import { createContext, runInContext, Script } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';

const port = parentPort!;
const { source } = workerData as { source: string };

const context = createContext(Object.create(null));
context.log = (...args: unknown[]) => port.postMessage({ type: 'log', message: args.map(String).join(' ') });
/** Copies a value into the context's realm, so the handler gets its own plain objects. */
const adopt = runInContext('(text) => JSON.parse(text)', context) as (text: string) => unknown;

let handle: ((sample: unknown, state: unknown) => unknown) | undefined;
let state: unknown;
let problem = 'the source defines no function handle(sample, state)';
try {
  const script = new Script(`${source}\n;typeof handle === 'function' ? handle : undefined`, { filename: 'module.js' });
  handle = script.runInContext(context) as typeof handle;
  state = runInContext('({})', context);
} catch (err) {
  // The source does not compile or fails at its top level: it would fail the same way again.
  problem = `the source fails to load: ${(err as Error).message}`;
}
if (handle === undefined) {
  port.postMessage({ type: 'refused', message: problem });
} else {
  const handler = handle;
  port.on('message', async (msg: { type: string; id: number; sample?: unknown }) => {
    if (msg.type === 'ping') {
      port.postMessage({ type: 'pong', id: msg.id });
      return;
    }
    try {
      const out = await handler(adopt(JSON.stringify(msg.sample)), state);
      // JSON round trip: only data leaves, and a result that is not data fails here, as an error.
      port.postMessage({ type: 'result', id: msg.id, out: out === undefined ? null : JSON.parse(JSON.stringify(out)) });
    } catch (err) {
      port.postMessage({ type: 'error', id: msg.id, message: String((err as Error)?.message ?? err) });
    }
  });
  port.postMessage({ type: 'ready' });
}
