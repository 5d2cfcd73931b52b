// The deployments `homeostat demo` applies to its fleet: every device does its job through modules
// the hub deploys, selected by the `model` label each kind of unit carries. Thermostats run the
// room-heating rule (their heaters follow them in 'remote' mode); mowers run the return-to-base
// rule; pumps run the bearing-anomaly model at the edge and the rules that raise its alarm (and
// the raw-vibration alarm as a fallback should the model not run).

import type { ModuleSpec, PutDeploymentRequest } from '@homeostat/protocol';
import { DEMO_RULES } from './demo-modules.js';
import { type PumpModel, pumpBearingModel } from './models/pump-model.js';

export interface DemoDeployment {
  name: string;
  request: PutDeploymentRequest;
}

/**
 * The demo's deployments; the pump's model module names `model` by hash (push its file first).
 * `timeScale` is the simulator's (simulated seconds per second): the rules' durations are meant in
 * the devices' time, so a 30 s hold becomes half a second of wall time at ×60. The model's windows
 * count samples (one a second whatever the scale) and are left as they are.
 */
export function demoDeployments(model: PumpModel, options: { timeScale?: number } = {}): DemoDeployment[] {
  const scale = (spec: ModuleSpec): ModuleSpec => scaleRule(spec, 1 / (options.timeScale ?? 1));
  return [
    {
      name: 'room-heating',
      request: {
        labels: { demo: 'true' },
        spec: { selector: 'model=th-100', priority: 0, modules: DEMO_RULES.thermostat.map(scale) },
      },
    },
    {
      name: 'mower-autonomy',
      request: {
        labels: { demo: 'true' },
        spec: { selector: 'model=mw-300', priority: 0, modules: DEMO_RULES.mower.map(scale) },
      },
    },
    {
      name: 'pump-condition',
      request: {
        labels: { demo: 'true' },
        spec: {
          selector: 'model=pm-400',
          priority: 0,
          modules: [pumpBearingModel(model), ...DEMO_RULES.pump.map(scale)],
        },
      },
    },
  ];
}

/** A rule with its durations (holds, minimum times, windows, staleness) multiplied by `factor`. */
export function scaleRule(spec: ModuleSpec, factor: number): ModuleSpec {
  if (spec.kind !== 'rule' || factor === 1) return spec;
  const ms = (v: number | undefined, min = 0) => (v === undefined ? undefined : Math.max(min, Math.round(v * factor)));
  // JSON in, JSON out: every `forMs`, `sizeMs` (windows: at least the protocol's 1 s), and the
  // rule's own minimum times and staleness.
  const scaled = JSON.parse(JSON.stringify(spec.config), (key, value) => {
    if (typeof value !== 'number') return value;
    if (key === 'forMs' || key === 'minActiveMs' || key === 'minInactiveMs' || key === 'staleAfterMs') return ms(value);
    if (key === 'sizeMs') return ms(value, 1000);
    return value;
  });
  return { ...spec, config: scaled };
}
