import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from './metrics.js';

function messages(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('homeostat_mqtt_messages_received_total{'));
}

test('messages counted on the hot path show whole at every read, never twice', async () => {
  const metrics = createMetrics();
  for (let i = 0; i < 3; i++) metrics.countMessage('heartbeat');
  metrics.countMessage('status');
  assert.deepEqual(messages(await metrics.registry.metrics()), [
    'homeostat_mqtt_messages_received_total{kind="heartbeat"} 3',
    'homeostat_mqtt_messages_received_total{kind="status"} 1',
  ]);
  // Read again with nothing new: the same totals.
  assert.deepEqual(messages(await metrics.registry.metrics()), [
    'homeostat_mqtt_messages_received_total{kind="heartbeat"} 3',
    'homeostat_mqtt_messages_received_total{kind="status"} 1',
  ]);
  metrics.countMessage('heartbeat');
  const counted = await metrics.mqttMessages.get();
  assert.deepEqual(
    counted.values.map((v) => [v.labels.kind, v.value]),
    [
      ['heartbeat', 4],
      ['status', 1],
    ],
  );
});

test("the process's own metrics only when asked for (the one hub of a process)", async () => {
  assert.doesNotMatch(await createMetrics().registry.metrics(), /^process_|^nodejs_/m);
  const text = await createMetrics({ processMetrics: true }).registry.metrics();
  assert.match(text, /^process_resident_memory_bytes \d+/m);
  assert.match(text, /^nodejs_heap_size_used_bytes \d+/m);
  assert.doesNotMatch(text, /device=/, 'no per-device labels');
});
