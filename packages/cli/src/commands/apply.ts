// `homeostat apply -f FILE`: makes the hub match a manifest of Device, EnrollmentGroup and Policy
// documents with one PUT each. Nothing is sent unless every document is valid; a resource the
// hub refuses is reported and the rest still applied, and the exit code then says 1.

import { routes } from '@homeostat/protocol';
import type { Command } from 'commander';
import type { HubClient } from '../client.js';
import { contextOf, outputOption } from '../context.js';
import { ApiError, CliError, formatError } from '../errors.js';
import { indent, printOutput, toYaml } from '../format.js';
import type { CliIo } from '../io.js';
import { type ApplyItem, parseManifests, refOf } from '../manifest.js';
import { tokenWarning } from './devices.js';

interface Applied {
  ref: string;
  action: 'created' | 'configured';
  resource: unknown;
  token?: string;
  claimToken?: string;
}

export function registerApply(program: Command, io: CliIo): void {
  program
    .command('apply')
    .description('create or update the Devices, EnrollmentGroups and Policies of a manifest (YAML or JSON)')
    .requiredOption('-f, --filename <file>', 'manifest file, or - for standard input')
    .option('--dry-run', 'check the manifest and print the requests without sending them')
    .addOption(outputOption())
    .action(async (opts: { filename: string; dryRun?: boolean }, command: Command) => {
      const ctx = contextOf(io, command);
      const source = opts.filename === '-' ? 'standard input' : opts.filename;
      const text = await readSource(io, opts.filename);
      const parsed = parseManifests(text);
      if (!parsed.ok) {
        throw new CliError(
          `${source} is invalid (${count(parsed.problems.length, 'problem')}); nothing was applied`,
          parsed.problems,
        );
      }
      if (opts.dryRun) {
        const plan = parsed.items.map((item) => ({
          ref: refOf(item),
          method: 'PUT',
          path: pathOf(item),
          body: item.request,
        }));
        printOutput(io, ctx.output, { items: plan }, () =>
          plan
            .map((p) => `${p.ref} would be applied (dry run): ${p.method} ${p.path}\n${indent(toYaml(p.body))}\n`)
            .join(''),
        );
        return;
      }
      const client = await ctx.client();
      const applied: Applied[] = [];
      let failed = 0;
      for (const item of parsed.items) {
        let result: Applied;
        try {
          result = await applyOne(client, item);
        } catch (err) {
          // A refusal concerns one document; an unreachable hub concerns them all.
          if (!(err instanceof ApiError)) throw err;
          failed++;
          io.stderr(formatError(new CliError(`${refOf(item)}: ${err.message}`, err.details)));
          continue;
        }
        applied.push(result);
        if (ctx.output === 'table') io.stdout(describeApplied(result));
        if (result.token !== undefined)
          io.stderr(tokenWarning(result.ref, `homeostat devices rotate-token ${item.name}`));
        if (result.claimToken !== undefined) {
          io.stderr(`warning: the claim token of ${result.ref} is shown only this once; store it now\n`);
        }
      }
      if (ctx.output !== 'table') printOutput(io, ctx.output, { items: applied }, () => '');
      if (failed > 0) throw new CliError(`${failed} of ${count(parsed.items.length, 'resource')} could not be applied`);
    });
}

async function readSource(io: CliIo, filename: string): Promise<string> {
  try {
    return filename === '-' ? await io.readStdin() : await io.readFile(filename);
  } catch (err) {
    throw new CliError(`cannot read ${filename} (${(err as Error).message})`);
  }
}

function pathOf(item: ApplyItem): string {
  if (item.kind === 'Policy') return routes.policy(item.name);
  return item.kind === 'Device' ? routes.device(item.name) : routes.enrollmentGroup(item.name);
}

async function applyOne(client: HubClient, item: ApplyItem): Promise<Applied> {
  const ref = refOf(item);
  if (item.kind === 'Policy') {
    const r = await client.putPolicy(item.name, item.request);
    return { ref, action: r.created ? 'created' : 'configured', resource: r.policy };
  }
  if (item.kind === 'Device') {
    const r = await client.putDevice(item.name, item.request);
    return r.created
      ? { ref, action: 'created', resource: r.device, token: r.token }
      : { ref, action: 'configured', resource: r.device };
  }
  const r = await client.putEnrollmentGroup(item.name, item.request);
  return r.created
    ? { ref, action: 'created', resource: r.group, claimToken: r.claimToken }
    : { ref, action: 'configured', resource: r.group };
}

function describeApplied(a: Applied): string {
  let text = `${a.ref} ${a.action}\n`;
  if (a.token !== undefined) text += `  token: ${a.token}\n`;
  if (a.claimToken !== undefined) text += `  claim token: ${a.claimToken}\n`;
  return text;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
