import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDeploymentSpec } from '@homeostat/protocol';
import { demoDeployments, scaleRule } from './demo-deployments.js';
import { MOWER_RETURN_TO_BASE, ROOM_HEATING } from './demo-modules.js';
import { loadPumpModel } from './models/pump-model.js';

test('the demo deployments are valid, one per kind of unit, the pump model named by its hash', () => {
  const model = loadPumpModel();
  const deployments = demoDeployments(model);
  assert.deepEqual(
    deployments.map((d) => [d.name, d.request.spec.selector]),
    [
      ['room-heating', 'model=th-100'],
      ['mower-autonomy', 'model=mw-300'],
      ['pump-condition', 'model=pm-400'],
    ],
  );
  for (const d of deployments) {
    const parsed = parseDeploymentSpec(d.request.spec);
    assert.ok(parsed.ok, `${d.name}: ${parsed.ok ? '' : parsed.errors.join('; ')}`);
  }
  const pump = deployments[2]?.request.spec.modules ?? [];
  const bearing = pump.find((m) => m.kind === 'model');
  assert.equal(bearing?.kind === 'model' ? bearing.config.artifact.sha256 : '', model.onnx.sha256);
});

test('at a time scale, the rules keep their meaning in simulated time', () => {
  const scaled = scaleRule(MOWER_RETURN_TO_BASE, 1 / 60);
  assert.equal(scaled.kind === 'rule' && 'forMs' in scaled.config.when ? scaled.config.when.forMs : -1, 500);
  const heating = scaleRule(ROOM_HEATING, 1 / 60);
  assert.equal(heating.kind === 'rule' ? heating.config.minActiveMs : -1, 1000);
  assert.deepEqual(scaleRule(ROOM_HEATING, 1), ROOM_HEATING);
  // The demo at ×60: a window of 10 minutes lasts 10 s of wall time, never under the protocol's 1 s.
  const pump = demoDeployments(loadPumpModel(), { timeScale: 3600 })[2]?.request.spec.modules ?? [];
  for (const m of pump) assert.ok(parseDeploymentSpec({ selector: '', modules: [m] }).ok, m.name);
});
