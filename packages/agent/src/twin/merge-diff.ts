// The JSON Merge Patch (RFC 7396) that turns one state into another: the inverse of protocol's
// applyMergePatch, which the protocol package does not provide. Arrays and scalars are replaced
// whole; a removed key becomes null.

import { isPlainObject, type JsonObject, jsonEqual } from '@homeostat/protocol';

/** A patch `p` such that applyMergePatch(from, p) deep-equals `to`. */
export function diffMergePatch(from: JsonObject, to: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(from)) {
    if (!(key in to)) patch[key] = null;
  }
  for (const [key, value] of Object.entries(to)) {
    const before = from[key];
    if (isPlainObject(value) && isPlainObject(before)) {
      const inner = diffMergePatch(before, value);
      if (Object.keys(inner).length > 0) patch[key] = inner;
    } else if (!jsonEqual(before, value)) {
      patch[key] = value;
    }
  }
  return patch;
}
