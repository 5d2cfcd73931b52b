// Schema helpers shared by the autonomic resources (autonomy.ts, policies.ts, decisions.ts,
// incidents.ts). Not part of the contract: index.ts does not re-export this file.

import { type TSchema, Type } from '@sinclair/typebox';
import { LABEL_KEY_PATTERN } from './names.js';

export const Strict = <T extends Record<string, TSchema>>(properties: T, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });
export const Literals = <T extends string>(values: readonly T[], description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  );
export const AnyObject = Type.Record(Type.String(), Type.Unknown());
export const Millis = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
export const LabelKey = Type.String({ pattern: LABEL_KEY_PATTERN });
export const Duration = (description: string, min = 0, max = 30 * 86_400_000) =>
  Type.Integer({ minimum: min, maximum: max, description: `${description}, ms` });
