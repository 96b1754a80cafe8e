import { formatGoDuration, parseGoDuration } from './go-duration';

describe('Go durations', () => {
  it.each([
    ['8760h0m0s', 8760 * 3_600_000],
    ['24h0m0s', 86_400_000],
    ['24h', 86_400_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['300ms', 300],
    ['2m3s', 123_000],
    ['0', 0],
    ['0s', 0],
    ['1000us', 1],
    ['.5h', 1_800_000],
  ])('parses %s', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each(['', '5', 'h', '1d', '-1h', '1h-30m', ' 1h', '1h ', '1.2.3s', 'forever'])('refuses %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });

  it('formats as Go does', () => {
    expect(formatGoDuration(8760 * 3_600_000)).toBe('8760h0m0s');
    expect(formatGoDuration(90_061_000)).toBe('25h1m1s');
    expect(formatGoDuration(1500)).toBe('1.5s');
    expect(formatGoDuration(0)).toBe('0s');
  });
});
