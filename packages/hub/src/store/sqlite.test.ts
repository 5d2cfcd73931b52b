import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract } from './contract.js';
import { openSqliteStore } from './sql-store.js';

storeContract('sqlite file', () => openSqliteStore(join(mkdtempSync(join(tmpdir(), 'homeostat-store-')), 'hub.db')));
storeContract('sqlite in memory', () => openSqliteStore(':memory:'));
storeContract('sqlite, portable telemetry writes', () => openSqliteStore(':memory:', { portableWrites: true }));
// Staged readings moved to blocks every few writes: the queries see them on both sides of a move.
storeContract('sqlite, telemetry moved to blocks every 3 readings', () =>
  openSqliteStore(':memory:', { stageReadings: 3 }),
);
