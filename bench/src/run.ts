// The benchmark runner: `npm run bench -- NAME [flags]`. Progress goes to stderr; the figures of
// the run are the last line of stdout, one JSON object. An unknown name lists the benchmarks and
// exits 2. Clean-ups (child processes, temporary directories) run however the benchmark ends.

import { edgeBytesBenchmark } from './edge-bytes.js';
import { fleetBenchmark } from './fleet.js';
import { BenchFailure, type Benchmark, Cleanups, progress, UsageError } from './harness.js';
import { inferenceBenchmark } from './inference.js';
import { ingestBenchmark } from './ingest.js';
import { moduleRestartBenchmark } from './module-restart.js';
import { outboxBenchmark } from './outbox.js';
import { badUpdateBenchmark, rolloutBenchmark } from './rollout.js';
import { rolloutTickBenchmark } from './rollout-tick.js';
import { scenariosBenchmark } from './scenarios.js';

const BENCHMARKS: Record<string, Benchmark> = {
  'bad-update': badUpdateBenchmark,
  'edge-bytes': edgeBytesBenchmark,
  fleet: fleetBenchmark,
  inference: inferenceBenchmark,
  ingest: ingestBenchmark,
  'module-restart': moduleRestartBenchmark,
  outbox: outboxBenchmark,
  scenarios: scenariosBenchmark,
  rollout: rolloutBenchmark,
  'rollout-tick': rolloutTickBenchmark,
};

function listBenchmarks(): string {
  const lines = Object.entries(BENCHMARKS).map(
    ([name, b]) => `  ${name.padEnd(14)} ${b.summary}\n  ${''.padEnd(14)} flags: ${b.usage}`,
  );
  return `usage: npm run bench -- NAME [flags]\nbenchmarks:\n${lines.join('\n')}\n`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  const bench = name === undefined ? undefined : BENCHMARKS[name];
  if (name === undefined || bench === undefined) {
    if (name !== undefined) process.stderr.write(`unknown benchmark: ${name}\n`);
    process.stderr.write(listBenchmarks());
    return 2;
  }
  const cleanups = new Cleanups();
  process.once('exit', () => cleanups.runSync());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping`);
      void cleanups.run().finally(() => process.exit(130));
    });
  }
  try {
    const figures = await bench.run(rest, cleanups);
    await cleanups.run();
    process.stdout.write(`${JSON.stringify({ bench: name, ok: true, ...figures })}\n`);
    return 0;
  } catch (err) {
    await cleanups.run();
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\nflags of ${name}: ${bench.usage}\n`);
      return 2;
    }
    process.stderr.write(`bench ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
    if (err instanceof BenchFailure) {
      process.stdout.write(`${JSON.stringify({ bench: name, ok: false, error: err.message, ...err.figures })}\n`);
    }
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// Exit explicitly once stdout is flushed: a stray handle (a keep-alive socket, a timer of an
// agent that did not stop in time) must not keep a finished benchmark running.
process.stdout.write('', () => process.exit(code));
