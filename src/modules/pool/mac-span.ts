import { MAC_SPACE, MacAddress } from './mac-address';

/** MAC values `first` to `last`, both included. */
export interface MacSpan {
  first: number;
  last: number;
}

/** Every MAC: what a Lease whose claims cannot be read stands for. */
export const WHOLE_MAC_SPACE: MacSpan = { first: 0, last: MAC_SPACE - 1 };

/** The spans sorted, with overlapping and adjacent ones joined. */
export function mergeSpans(spans: Iterable<MacSpan>): MacSpan[] {
  const sorted = [...spans].sort((a, b) => a.first - b.first);
  const merged: MacSpan[] = [];
  for (const span of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && span.first <= last.last + 1) last.last = Math.max(last.last, span.last);
    else merged.push({ first: span.first, last: span.last });
  }
  return merged;
}

export function spansContain(spans: readonly MacSpan[], value: number): boolean {
  for (const span of spans) if (value >= span.first && value <= span.last) return true;
  return false;
}

/** The span as the pair `["02:00:00:00:00:10", "02:00:00:00:04:0f"]` (JSON in the Lease). */
export function formatSpan(span: MacSpan): [string, string] {
  return [MacAddress.format(span.first), MacAddress.format(span.last)];
}

/** The inverse of formatSpan; throws on anything else (not a pair of MACs, last before first). */
export function parseSpan(value: unknown): MacSpan {
  if (!Array.isArray(value) || value.length !== 2 || value.some((item) => typeof item !== 'string'))
    throw new Error(`${JSON.stringify(value)}: not a MAC span (a pair of MACs)`);
  const span = { first: MacAddress.parse(value[0]).value, last: MacAddress.parse(value[1]).value };
  if (span.last < span.first) throw new Error(`${JSON.stringify(value)}: the span ends before it starts`);
  return span;
}
