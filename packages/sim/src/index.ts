// Simulated hardware for the demo fleet, the tests and the benchmarks: rooms with a thermostat
// and a heater, robot mowers, pumps with wearing bearings, and faults to inject into any of them.

export { capabilitiesOf, type SimKind } from './capabilities.js';
export { type DemoDeployment, demoDeployments, scaleRule } from './demo-deployments.js';
export { DEMO_DESIRED } from './demo-desired.js';
export {
  DEMO_RULES,
  HEATER_REMOTE,
  MOWER_RETURN_TO_BASE,
  PUMP_BEARING_ALARM,
  PUMP_VIBRATION_ALARM,
  ROOM_HEATING,
} from './demo-modules.js';
export { Environment, type EnvironmentOptions } from './environment.js';
export {
  FAULT_TYPES,
  type Fault,
  type FaultProfile,
  FaultSet,
  type FaultType,
  type ModelFault,
  type ModelFaultType,
  PowerLossError,
} from './faults.js';
export { type Provisioning, SimFleet, type SimFleetOptions } from './fleet.js';
export {
  type FleetPlanOptions,
  PLAN_KINDS,
  type PlanKind,
  type PlannedDevice,
  planFleet,
  planUnits,
} from './fleet-plan.js';
export {
  clamp,
  type DeviceHardware,
  type Metrics,
  numberIn,
  SimHardware,
  type SimHardwareOptions,
  type State,
} from './hardware.js';
export { healthyRuns, PUMP_INPUTS, type PumpRun, pumpRows, SAMPLE_MS } from './models/pump-data.js';
export {
  loadPumpModel,
  type ModelModuleSpec,
  PUMP_MODEL_NAME,
  type PumpModel,
  pumpBearingModel,
  pumpModelPaths,
} from './models/pump-model.js';
export {
  MOWER_STATE_CODES,
  MowerHardware,
  type MowerMode,
  type MowerOptions,
  type MowerState,
} from './mower.js';
export { PumpHardware, type PumpOptions } from './pump.js';
export { deriveSeed, hashInt, Random, valueNoise } from './random.js';
export {
  type HeatCaller,
  HeaterHardware,
  type HeaterMode,
  type HeaterOptions,
  Room,
  type RoomAppliance,
  type RoomOptions,
  SETPOINT_MAX_C,
  SETPOINT_MIN_C,
  ThermostatHardware,
  type ThermostatOptions,
} from './room.js';
export { DEVICE_LOOP_POLICIES } from './scenarios/device-policies.js';
export { DAY_MS, HOUR_MS, SimTime, type SimTimeOptions, steps } from './sim-time.js';
