import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRolloutSpec, rolloutDefaults } from './rollouts.js';

const spec = (behaviour: unknown[]) => ({
  selector: 'model=pump-a1',
  artifact: { name: 'pump-firmware', version: '1.3.0' },
  gates: { behaviour },
});

test('behaviour gates: a ceiling, a floor for a metric, or both', () => {
  const parsed = parseRolloutSpec(
    spec([
      { signal: 'alarms', maxRatio: 2 },
      { signal: 'metric', metric: 'flow', minRatio: 0.9, slack: 0 },
      { signal: 'metric', metric: 'vibration.p95', minRatio: 0.5, maxRatio: 1.2 },
    ]),
  );
  assert.ok(parsed.ok, JSON.stringify(parsed));
  assert.deepEqual(rolloutDefaults(parsed.value).gates.behaviour[1], {
    signal: 'metric',
    metric: 'flow',
    minRatio: 0.9,
    slack: 0,
  });
});

test('behaviour gates: every problem, each at its path', () => {
  const parsed = parseRolloutSpec(
    spec([
      { signal: 'metric', metric: 'flow' },
      { signal: 'alarms', minRatio: 0.5 },
      { signal: 'metric', metric: 'flow', minRatio: 2, maxRatio: 1 },
      { signal: 'metric', maxRatio: 1 },
      { signal: 'module-crashes', metric: 'flow', maxRatio: 1 },
    ]),
  );
  assert.equal(parsed.ok, false);
  assert.deepEqual(parsed.ok ? [] : parsed.errors, [
    '/gates/behaviour/0: give maxRatio, minRatio or both',
    '/gates/behaviour/1/minRatio: only for signal metric',
    '/gates/behaviour/2/minRatio: above maxRatio, no value could pass',
    '/gates/behaviour/3/metric: name the metric to compare',
    '/gates/behaviour/4/metric: only for signal metric',
  ]);
});
