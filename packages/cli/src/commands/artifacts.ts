// `homeostat artifacts sign|push` and `homeostat get artifacts`: a file's signed manifest made
// offline with a signing key, then the file and its manifest pushed to the hub (file first, so
// the hub never holds a manifest without its file), for devices to download.

import { signingKeyFromPem } from '@homeostat/kit';
import {
  type ArtifactManifest,
  isName,
  NAME_PATTERN,
  parser,
  type SignedManifest,
  SignedManifest as SignedManifestSchema,
  VERSION_PATTERN,
} from '@homeostat/protocol';
import type { Command } from 'commander';
import { collect, parseDuration, parseName } from '../args.js';
import { contextOf, outputOption } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { printOutput } from '../format.js';
import type { CliIo } from '../io.js';
import { artifactTable } from '../tables.js';
import { readRequired, signDocument } from './keys.js';

const PUBLIC = 0o644;
const parseManifest = parser(SignedManifestSchema);

export function registerArtifacts(program: Command, io: CliIo): void {
  const artifacts = program.command('artifacts').description('signed update artifacts');
  artifacts
    .command('sign')
    .description('write the signed manifest of a file: FILE.manifest.json')
    .argument('<file>', 'the artifact (firmware image, module bundle, model)')
    .requiredOption('--name <name>', 'artifact name, e.g. pump-firmware')
    .requiredOption('--version <version>', 'MAJOR.MINOR.PATCH; devices only install a higher one')
    .requiredOption('--target-model <model>', 'a device model that may install it (repeatable)', collect, [])
    .requiredOption('--key <file>', 'a signing key named in trusted-keys.json')
    .option('--expires <duration>', 'how long the manifest may be installed', '90d')
    .option('--out <file>', 'where to write the manifest (default FILE.manifest.json)')
    .option(
      '--no-revert',
      'a device that committed it never goes back to its previous version, even when a rollout halts (security fixes)',
    )
    .action(
      async (
        file: string,
        opts: {
          name: string;
          version: string;
          targetModel: string[];
          key: string;
          expires: string;
          out?: string;
          revert: boolean;
        },
      ) => {
        if (!isName(opts.name))
          throw new UsageError(`invalid --name ${JSON.stringify(opts.name)}: must match ${NAME_PATTERN}`);
        if (!new RegExp(VERSION_PATTERN).test(opts.version)) {
          throw new UsageError(
            `invalid --version ${JSON.stringify(opts.version)}: expected MAJOR.MINOR.PATCH, e.g. 1.4.0`,
          );
        }
        const badModel = opts.targetModel.find((m) => !isName(m));
        if (badModel !== undefined) throw new UsageError(`invalid --target-model ${JSON.stringify(badModel)}`);
        const expiresIn = parseDuration('--expires', opts.expires);
        const key = signingKeyFromPem(await readRequired(io, opts.key));
        let digest: { sha256: string; size: number };
        try {
          digest = await io.hashFile(file);
        } catch (err) {
          throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
        }
        const now = io.now();
        const manifest: ArtifactManifest = {
          type: 'artifact',
          name: opts.name,
          version: opts.version,
          targetModels: opts.targetModel,
          sha256: digest.sha256,
          size: digest.size,
          createdAt: now,
          expiresAt: now + expiresIn,
          revertible: opts.revert,
        };
        const out = opts.out ?? `${file}.manifest.json`;
        const signed: SignedManifest = signDocument(manifest, key);
        await io.writeFile(out, `${JSON.stringify(signed, null, 2)}\n`, PUBLIC);
        io.stdout(`${out}: ${manifest.name} ${manifest.version}, sha256 ${manifest.sha256}, signed by ${key.keyId}\n`);
      },
    );

  artifacts
    .command('push')
    .description('upload a file and its signed manifest to the hub')
    .argument('<file>', 'the artifact')
    .option('--manifest <file>', 'its signed manifest (default FILE.manifest.json)')
    .addOption(outputOption())
    .action(async (file: string, opts: { manifest?: string }, command: Command) => {
      const ctx = contextOf(io, command);
      const path = opts.manifest ?? `${file}.manifest.json`;
      let doc: unknown;
      try {
        doc = JSON.parse(await readRequired(io, path));
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError(`${path} is not JSON: ${(err as Error).message}`);
      }
      const parsed = parseManifest.parse(doc);
      if (!parsed.ok) throw new CliError(`${path} is not a signed manifest`, parsed.errors);
      const manifest = parsed.value.signed;
      // Checked here first: a wrong pairing is a local mistake, not worth an upload.
      const digest = await io.hashFile(file).catch((err: Error) => {
        throw new CliError(`cannot read ${file}: ${err.message}`);
      });
      if (digest.sha256 !== manifest.sha256 || digest.size !== manifest.size) {
        throw new CliError(`${file} is not the file ${path} was signed for`, [
          `file: sha256 ${digest.sha256}, ${digest.size} bytes`,
          `manifest: sha256 ${manifest.sha256}, ${manifest.size} bytes`,
        ]);
      }
      const client = await ctx.client();
      await client.uploadBlob(manifest.sha256, io.fileStream(file));
      const { created, artifact } = await client.pushManifest(parsed.value);
      printOutput(
        io,
        ctx.output,
        artifact,
        () => `artifact/${artifact.name} ${artifact.version} ${created ? 'pushed' : 'unchanged (pushed already)'}\n`,
      );
    });
}

/** `get artifacts [NAME]`, registered by `get`. */
export async function getArtifacts(io: CliIo, command: Command, name: string | undefined): Promise<void> {
  const ctx = contextOf(io, command);
  const items = await (await ctx.client()).listArtifacts(name === undefined ? undefined : parseName('artifact', name));
  printOutput(io, ctx.output, { items }, () => (items.length === 0 ? '' : artifactTable(items, io.now())));
  if (items.length === 0 && ctx.output === 'table') io.stderr('no artifacts found\n');
}
