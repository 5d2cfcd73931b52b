// A decision in plain language, pure: what fired, what the hub concluded, what it planned, how
// far it was allowed to go and why, what each action did, and whether it worked. Stored with
// the decision (rewritten at every step) so every reader, CLI or dashboard, tells the same story.

import type { Decision, DecisionAction } from '@homeostat/protocol';

const at = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

const DEGREE_MEANING: Record<Decision['degree'], string> = {
  observe: 'observe (record only)',
  recommend: 'recommend (propose; a person applies it)',
  approve: 'approve (act once a person approves)',
  act: 'act (act, then report)',
};

export function describeAction(a: Pick<DecisionAction, 'action' | 'device' | 'params'>): string {
  const on = a.device ?? '(no device)';
  const p = a.params;
  switch (a.action) {
    case 'open-incident':
      return `open a ${String(p.severity ?? 'warning')} incident${p.title ? ` "${String(p.title)}"` : ''}`;
    case 'patch-desired':
      return `set the desired state of ${on}: ${JSON.stringify(p.patch)}`;
    case 'send-command':
      return `send the command ${String(p.command)} to ${on}${p.args ? ` with ${JSON.stringify(p.args)}` : ''}`;
    case 'quarantine':
      return `quarantine ${on} (refuse its connections, close the one open)`;
    case 'rotate-credentials':
      return `rotate the credentials of ${on} (its token stops working)`;
    case 'work-order':
      return `write a work order for ${on} with its recent history`;
    case 'hand-over':
      return `hand the duties of ${String(p.from)} over to ${on}${Array.isArray(p.keys) ? ` (${p.keys.join(', ')})` : ''}`;
    case 'rollback-module':
      return `roll back module ${String(p.module ?? '(the crash-looping one)')} on ${on}`;
    case 'tighten-retention':
      return p.undo === true
        ? 'undo: keep raw readings as configured again'
        : `keep raw readings ${String(p.rawMs)} ms at most while the symptom lasts, and prune now`;
    case 'backpressure':
      return p.undo === true
        ? 'undo: release the backpressure on telemetry'
        : 'hold telemetry acknowledgements back while the ingest backlog is long (devices keep their readings)';
    case 'shed-work':
      return p.undo === true ? `undo: resume ${String(p.work)}` : `pause ${String(p.work)} while the symptom lasts`;
    case 'hand-back':
      return `hand the duties of ${String(p.from)} back: ${on} returns to what it did before (${Array.isArray(p.keys) ? p.keys.join(', ') : ''})`;
    case 'replace-device':
      return `replace ${String(p.from)} with ${on}: labels, desired state and duties move, ${String(p.from)} is retired`;
  }
}

function outcomeOf(a: DecisionAction): string {
  switch (a.state) {
    case 'planned':
      return 'not done yet';
    case 'not-executed':
      return 'not executed';
    case 'skipped':
      return `skipped: ${a.result ?? ''}`;
    default:
      return `${a.state}${a.finishedAt !== null ? ` at ${at(a.finishedAt)}` : ''}: ${a.result ?? ''}`;
  }
}

export function explainDecision(d: Decision): string {
  const lines: string[] = [];
  const devices = d.devices.length > 0 ? d.devices.join(', ') : 'no device';
  lines.push(`Decision ${d.id} (${d.property}) by policy ${d.policy}, about ${devices}.`);
  lines.push(`What happened: at ${at(d.trigger.at)}, ${d.trigger.summary}.`);
  lines.push(`Analysis: ${d.analysis.symptom}: ${d.analysis.summary}.`);
  if (d.actions.length > 0) {
    lines.push('Plan:');
    d.actions.forEach((a, i) => {
      lines.push(`  ${i + 1}. ${describeAction(a)}: ${outcomeOf(a)}`);
    });
  }
  lines.push(`Degree: ${DEGREE_MEANING[d.degree]}, from the ${d.degreeSource}.`);
  lines.push(`Now: ${d.state}. ${stateSentence(d)}`);
  if (d.verification) {
    const v = d.verification;
    const check = {
      'desired-applied': 'every device whose desired state changed applies it',
      quiet: 'the trigger does not fire again',
      online: 'the device is back online',
      cleared: 'the symptom clears',
    }[v.check];
    lines.push(
      v.outcome === 'pending'
        ? `Verification: expecting that ${check} by ${at(v.deadline)}.`
        : `Verification: expected that ${check} by ${at(v.deadline)}: ${v.outcome} at ${at(v.at ?? v.deadline)}${v.detail ? ` (${v.detail})` : ''}.`,
    );
  }
  if (d.follows) lines.push(`Follows decision ${d.follows}.`);
  if (d.incident) lines.push(`Incident: ${d.incident}.`);
  return lines.join('\n');
}

function stateSentence(d: Decision): string {
  const approval = d.approval;
  switch (d.state) {
    case 'proposed':
      return d.degree === 'observe'
        ? 'The hub recorded what it saw and did nothing.'
        : 'The hub did nothing itself: the plan waits for a person to apply it.';
    case 'awaiting-approval':
      return approval
        ? `Waiting for a person to approve or reject it until ${at(approval.deadline)}; then the default is to ${approval.default}.`
        : 'Waiting for a person.';
    case 'approved':
      return `Approved${approval?.by ? ` by ${approval.by}` : ''}${approval?.reason ? ` (${approval.reason})` : ''}.`;
    case 'rejected':
      return `Rejected${approval?.by ? ` by ${approval.by}` : ''}${approval?.reason ? ` (${approval.reason})` : ''}: nothing was done.`;
    case 'expired':
      return 'Nobody answered before the deadline, and the stated default was to reject: nothing was done.';
    case 'executing':
      return 'The hub is carrying out the plan.';
    case 'succeeded':
      return 'Every action was carried out.';
    case 'failed':
      return 'At least one action failed (see the plan).';
    case 'verified':
      return 'The actions had the effect they should have.';
    case 'escalated':
      return 'The expected effect did not show in time: escalated to a person.';
    case 'held':
      return `Held, nothing was done: ${d.hold?.reason ?? ''}${d.hold?.until ? `; the hub looks again at ${at(d.hold.until)}` : ''}.`;
  }
}
