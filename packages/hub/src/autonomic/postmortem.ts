// The blameless post-mortem of a resolved incident, pure: what happened to which devices and for
// how long, the timeline from the last sign of health to the resolution (each decision with its
// trigger, evidence and analysis, the actions and their results, verifications, escalations,
// approvals), the time to detect, mitigate and resolve, what worked and what did not, and what
// is left to do. It speaks of the system, never of a person: people appear as "a person".

import {
  API_VERSION,
  type Decision,
  HUB_POLICIES,
  type Incident,
  LOOP_RESOLVER,
  type PostMortem,
} from '@homeostat/protocol';
import { describeAction } from './explain.js';

type Entry = PostMortem['timeline'][number];

/** Actions that record or hand work to people; they do not mitigate anything by themselves. */
const RECORDING = new Set(['open-incident', 'work-order']);

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  if (min < 60) return s === 0 ? `${min} min` : `${min} min ${s} s`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** When the trouble began: the last time the device was heard, else when the trigger fired. */
function onsetOf(d: Decision): number {
  const seen = d.trigger.evidence.lastSeen;
  return d.trigger.kind === 'liveness' && typeof seen === 'number' ? seen : d.trigger.at;
}

function decisionEntries(d: Decision): Entry[] {
  const out: Entry[] = [];
  const at = (t: number, kind: Entry['kind'], message: string) => out.push({ at: t, kind, decision: d.id, message });
  at(
    d.createdAt,
    d.policy === HUB_POLICIES.handBack ? 'hand-back' : 'decision',
    `${d.trigger.summary}. Analysis (${d.analysis.symptom}): ${d.analysis.summary}. Policy ${d.policy} at degree ${d.degree}.`,
  );
  for (const h of d.history) {
    if (h.state === 'approved') at(h.at, 'approval', 'a person approved the plan');
    else if (h.state === 'rejected') at(h.at, 'approval', 'a person rejected the plan: it was not carried out');
    else if (h.state === 'expired')
      at(h.at, 'approval', 'nobody answered by the deadline: the default, reject, applied');
    else if (h.state === 'held') at(h.at, 'decision', `held: ${d.hold?.reason ?? h.note}`);
    else if (h.state === 'escalated') at(h.at, 'escalation', h.note);
  }
  for (const a of d.actions) {
    if (a.finishedAt === null) continue;
    at(a.finishedAt, 'action', `${describeAction(a)}: ${a.state}${a.result ? `, ${a.result}` : ''}`);
  }
  const v = d.verification;
  if (v && v.outcome !== 'pending' && v.at !== null) {
    at(
      v.at,
      v.outcome === 'verified' ? 'verification' : 'escalation',
      `verification (${v.check}) ${v.outcome}: ${v.detail ?? ''}`,
    );
  }
  return out;
}

export function writePostMortem(input: {
  incident: Incident;
  decisions: readonly Decision[];
  workOrders: readonly Incident[];
  now: number;
}): PostMortem {
  const { incident, now } = input;
  const decisions = [...input.decisions].sort((a, b) => a.createdAt - b.createdAt);
  const resolvedAt = incident.resolvedAt ?? now;
  const onset = Math.min(incident.openedAt, ...decisions.map(onsetOf));
  const first = decisions[0];
  const mitigations = decisions
    .flatMap((d) => d.actions)
    .filter((a) => a.state === 'done' && !RECORDING.has(a.action) && a.finishedAt !== null)
    .map((a) => a.finishedAt as number);
  const figures = {
    timeToDetectMs: first ? Math.max(0, first.createdAt - onset) : null,
    timeToMitigateMs: mitigations.length > 0 ? Math.max(0, Math.min(...mitigations) - onset) : null,
    timeToResolveMs: Math.max(0, resolvedAt - onset),
  };
  const byLoop = incident.resolution?.by === LOOP_RESOLVER;
  const note = incident.resolution?.note ?? '';
  const timeline: Entry[] = [];
  if (first) {
    timeline.push({
      at: onset,
      kind: 'onset',
      decision: null,
      message: `last sign of health from ${first.trigger.device ?? 'the devices'}`,
    });
    timeline.push({
      at: first.createdAt,
      kind: 'detection',
      decision: first.id,
      message: `detected: ${first.trigger.summary}`,
    });
  }
  for (const d of decisions) timeline.push(...decisionEntries(d));
  for (const t of incident.timeline) {
    if (/^(dec-[0-9a-f]+|resolved by )/.test(t.message)) continue;
    timeline.push({ at: t.at, kind: 'note', decision: null, message: t.message });
  }
  timeline.push({
    at: resolvedAt,
    kind: 'resolution',
    decision: null,
    message: `${byLoop ? 'the autonomic loop' : 'a person'} resolved the incident: ${note}`,
  });
  timeline.sort((a, b) => a.at - b.at);

  const actions = decisions.flatMap((d) => d.actions.map((a) => ({ d, a })));
  const wentWell: string[] = [];
  const wentWrong: string[] = [];
  const followUps: PostMortem['followUps'] = [];
  if (figures.timeToDetectMs !== null)
    wentWell.push(`detected ${formatMs(figures.timeToDetectMs)} after the last sign of health`);
  if (figures.timeToMitigateMs !== null)
    wentWell.push(`mitigated ${formatMs(figures.timeToMitigateMs)} after the last sign of health`);
  for (const d of decisions) {
    if (d.verification?.outcome === 'verified')
      wentWell.push(`decision ${d.id} had its expected effect: ${d.verification.detail ?? d.verification.check}`);
    if (d.state === 'escalated') {
      wentWrong.push(`decision ${d.id} escalated: ${d.verification?.detail ?? 'an action failed'}`);
      followUps.push({
        id: d.id,
        action: `review policy ${d.policy}: its plan did not have the expected effect in time`,
      });
    }
    if (d.state === 'expired')
      wentWrong.push(`decision ${d.id} waited for an approval that did not come; its plan was not carried out`);
    if (d.state === 'rejected') wentWrong.push(`decision ${d.id} was rejected: its plan was not carried out`);
    if (d.state === 'held') wentWrong.push(`decision ${d.id} was held: ${d.hold?.reason ?? ''}`);
  }
  for (const { d, a } of actions) {
    if (a.state === 'failed') wentWrong.push(`${describeAction(a)} failed (decision ${d.id}): ${a.result ?? ''}`);
    if (a.state === 'skipped' && a.result) {
      wentWrong.push(`${describeAction(a)} was skipped (decision ${d.id}): ${a.result}`);
      followUps.push({ id: d.id, action: `make it possible next time: ${a.result}` });
    }
  }
  const done = actions.filter(({ a }) => a.state === 'done').length;
  if (done > 0 && !actions.some(({ a }) => a.state === 'failed'))
    wentWell.push(`${done} actions carried out, none failed`);
  if (decisions.some((d) => d.policy === HUB_POLICIES.handBack && d.actions.some((a) => a.state === 'done'))) {
    wentWell.push('the duties went back once the device was stable: no peer was left doing its work');
  }
  if (wentWrong.length === 0) wentWrong.push('nothing: every action carried out had its effect');
  for (const o of input.workOrders) followUps.push({ id: o.id, action: `open work order: ${o.title}` });

  const devices = incident.devices;
  const summary = `${incident.title}. ${devices.join(', ')} affected for ${formatMs(figures.timeToResolveMs)}: detected after ${
    figures.timeToDetectMs === null ? 'an unknown time' : formatMs(figures.timeToDetectMs)
  }, mitigated after ${figures.timeToMitigateMs === null ? 'no automatic action' : formatMs(figures.timeToMitigateMs)}, resolved by ${
    byLoop ? 'the autonomic loop' : 'a person'
  }. ${decisions.length} decision(s), ${done} action(s) carried out.`;
  return {
    apiVersion: API_VERSION,
    kind: 'PostMortem',
    incident: incident.id,
    title: incident.title,
    writtenAt: now,
    summary,
    impact: {
      devices,
      severity: incident.severity,
      startedAt: onset,
      resolvedAt,
      durationMs: Math.max(0, resolvedAt - onset),
    },
    figures,
    timeline,
    wentWell,
    wentWrong,
    followUps,
    resolution: { by: byLoop ? 'the autonomic loop' : 'a person', note },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The post-mortem as a Markdown document. */
export function postMortemMarkdown(p: PostMortem): string {
  const f = p.figures;
  const figure = (ms: number | null) => (ms === null ? 'n/a' : formatMs(ms));
  const list = (items: readonly string[]) => items.map((i) => `- ${i}`).join('\n');
  return [
    `# Post-mortem: ${p.title}`,
    '',
    `Incident \`${p.incident}\`, written ${iso(p.writtenAt)}. Blameless: it describes what the system did, not who.`,
    '',
    '## Summary',
    '',
    p.summary,
    '',
    '## Impact',
    '',
    `- Devices: ${p.impact.devices.join(', ')}`,
    `- Severity: ${p.impact.severity}`,
    `- From ${iso(p.impact.startedAt)} to ${iso(p.impact.resolvedAt)} (${formatMs(p.impact.durationMs)})`,
    '',
    '## Figures',
    '',
    '| time to detect | time to mitigate | time to resolve |',
    '|---|---|---|',
    `| ${figure(f.timeToDetectMs)} | ${figure(f.timeToMitigateMs)} | ${figure(f.timeToResolveMs)} |`,
    '',
    '## Timeline',
    '',
    '| time | what | decision | detail |',
    '|---|---|---|---|',
    ...p.timeline.map(
      (e) => `| ${iso(e.at)} | ${e.kind} | ${e.decision ?? ''} | ${e.message.replaceAll('|', '\\|')} |`,
    ),
    '',
    '## What worked',
    '',
    list(p.wentWell),
    '',
    '## What did not',
    '',
    list(p.wentWrong),
    '',
    '## Follow-ups',
    '',
    p.followUps.length === 0 ? 'None.' : list(p.followUps.map((u) => (u.id ? `${u.action} (${u.id})` : u.action))),
    '',
    '## Resolution',
    '',
    `Resolved by ${p.resolution.by}: ${p.resolution.note}`,
    '',
  ].join('\n');
}
