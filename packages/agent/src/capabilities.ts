// What the device is and can run, as announced in its status and offered to model modules.

import { onnxExecutionProviders } from '@homeostat/inference';
import type { Capabilities } from '@homeostat/protocol';
import type { AgentOptions } from './agent-options.js';

/** What onnxruntime offers here; none when its native binding does not load on this machine. */
function runtimeProviders(): string[] {
  try {
    return onnxExecutionProviders();
  } catch {
    return [];
  }
}

/** The hardware's capabilities, and the ONNX execution providers here. */
export function deviceCapabilities(options: Pick<AgentOptions, 'hardware' | 'executionProviders'>): Capabilities {
  return {
    kind: options.hardware.kind,
    ...options.hardware.capabilities(),
    executionProviders: [...(options.executionProviders ?? runtimeProviders)()],
  };
}
