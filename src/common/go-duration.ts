const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go duration string (`time.ParseDuration`: `8760h0m0s`, `24h`, `1h30m`, `1.5s`, `300ms`) into
 * milliseconds, so upstream's values (CA_ROTATE_INTERVAL=8760h0m0s) work unchanged. Returns undefined when the
 * text is not one. Negative durations are refused: no interval here may be negative.
 */
export function parseGoDuration(text: string): number | undefined {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  if (text === '0') return 0;
  let total = 0;
  let position = 0;
  while (position < text.length) {
    PART.lastIndex = position;
    const match = PART.exec(text);
    if (match === null) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2]];
    position = PART.lastIndex;
  }
  return total;
}

/** A duration in Go's format (largest units first), for messages: 90061000 → `25h1m1s`. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  let text = '';
  if (hours > 0) text += `${hours}h`;
  if (hours > 0 || minutes > 0) text += `${minutes}m`;
  return `${text}${Number(seconds.toFixed(3))}s`;
}
