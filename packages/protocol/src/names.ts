// Names that travel on the wire: device names (also MQTT usernames and topic segments),
// label keys and values, metric names. One place decides what is valid.

/** Device and resource names: lowercase DNS-label style, so they are safe in topics, URLs and files. */
export const NAME_PATTERN = '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$';
const nameRe = new RegExp(NAME_PATTERN);

/** Metric names: a letter, then letters, digits, `_` and `.`; at most 64 characters. */
export const METRIC_PATTERN = '^[A-Za-z][A-Za-z0-9_.]{0,63}$';
const metricRe = new RegExp(METRIC_PATTERN);

/** Label keys: like Kubernetes, an optional `prefix/` then a name of 63 characters at most. */
export const LABEL_KEY_PATTERN = '^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$';
export const LABEL_VALUE_PATTERN = '^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$';
const labelKeyRe = new RegExp(LABEL_KEY_PATTERN);
const labelValueRe = new RegExp(LABEL_VALUE_PATTERN);

export function isName(value: string): boolean {
  return nameRe.test(value);
}

export function isMetricName(value: string): boolean {
  return metricRe.test(value);
}

export function isLabelKey(value: string): boolean {
  return labelKeyRe.test(value);
}

export function isLabelValue(value: string): boolean {
  return labelValueRe.test(value);
}

export type LabelMap = Record<string, string>;

/** A label selector term: `key=value`, `key!=value`, `key` (exists) or `!key` (absent). */
export type SelectorTerm =
  | { op: 'eq'; key: string; value: string }
  | { op: 'neq'; key: string; value: string }
  | { op: 'exists'; key: string }
  | { op: 'absent'; key: string };

/** Parses `site=paris,model!=m1,beta,!retired`; returns the problems as messages. */
export function parseSelector(text: string): { terms: SelectorTerm[] } | { errors: string[] } {
  const terms: SelectorTerm[] = [];
  const errors: string[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    let term: SelectorTerm;
    if (part.startsWith('!')) {
      term = { op: 'absent', key: part.slice(1) };
    } else if (part.includes('!=')) {
      const [key = '', value = ''] = part.split('!=', 2);
      term = { op: 'neq', key, value };
    } else if (part.includes('=')) {
      const [key = '', value = ''] = part.split('=', 2);
      term = { op: 'eq', key: key.replace(/=$/, ''), value: value.replace(/^=/, '') };
    } else {
      term = { op: 'exists', key: part };
    }
    if (!isLabelKey(term.key)) errors.push(`selector: invalid label key ${JSON.stringify(term.key)}`);
    if ('value' in term && !isLabelValue(term.value)) {
      errors.push(`selector: invalid label value ${JSON.stringify(term.value)}`);
    }
    terms.push(term);
  }
  return errors.length > 0 ? { errors } : { terms };
}

export function matchesSelector(labels: LabelMap, terms: readonly SelectorTerm[]): boolean {
  return terms.every((t) => {
    const has = Object.hasOwn(labels, t.key);
    switch (t.op) {
      case 'eq':
        return has && labels[t.key] === t.value;
      case 'neq':
        return !has || labels[t.key] !== t.value;
      case 'exists':
        return has;
      case 'absent':
        return !has;
      default:
        return false;
    }
  });
}
