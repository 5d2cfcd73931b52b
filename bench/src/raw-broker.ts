// The baseline broker of the `ingest` benchmark, in a child process of its own:
// `node bench/dist/raw-broker.js` listens on a free port of 127.0.0.1 and prints
// `raw broker mqtt://127.0.0.1:PORT`. It is the broker software the hub embeds (aedes, resolved
// from node_modules as the hub resolves it) on a TCP server with the hub's socket options (Nagle
// off), with none of the hub's work: every client is accepted, every publish is authorized at once
// (no authorizePublish hook), no packet guard, aedes' default in-memory persistence. SIGTERM closes
// it and exits cleanly (so that `node --cpu-prof` writes its profile).

import { createServer, type Socket } from 'node:net';
import { listenOnFreePort } from '@homeostat/testing';
import { Aedes } from 'aedes';

const aedes = await Aedes.createBroker({
  authenticate: (_client, _username, _password, done) => done(null, true),
});
const sockets = new Set<Socket>();
const server = createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  aedes.handle(socket);
});

const port = await listenOnFreePort(server, 'raw broker');
process.stdout.write(`raw broker mqtt://127.0.0.1:${port}\n`);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  server.close();
  aedes.close(() => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
});
