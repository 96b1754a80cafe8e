import { MacAddress } from './mac-address';
import { MacRange } from './mac-range';
import { PoolException, PoolExceptionCode } from './pool.exception';

function rangeError(start: string, end: string): PoolException {
  try {
    MacRange.parse(start, end);
  } catch (error) {
    return error as PoolException;
  }
  throw new Error(`range ${start} - ${end} was accepted`);
}

describe('MacRange', () => {
  it('accepts a valid range and computes its size', () => {
    const range = MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:10');
    expect(range.size).toBe(17);
    expect(range.toString()).toBe('02:00:00:00:00:00 - 02:00:00:00:00:10');
  });

  it('computes upstream pool sizes, including 2^40 + 1 and a negative one', () => {
    const size = (a: string, b: string) => MacRange.sizeOf(MacAddress.parse(a), MacAddress.parse(b));
    expect(size('02:00:00:00:00:00', '03:00:00:00:00:00')).toBe(2 ** 40 + 1);
    expect(size('02:00:00:00:00:00', '02:00:00:00:00:10')).toBe(17);
    expect(size('02:00:00:00:00:00', '02:FF:FF:FF:FF:FF')).toBe(2 ** 40);
    expect(size('02:00:00:00:00:10', '02:00:00:00:00:00')).toBe(-15);
  });

  it('handles the whole 48-bit space exactly', () => {
    const range = MacRange.parse('00:00:00:00:00:00', 'fe:ff:ff:ff:ff:ff');
    expect(range.size).toBe(0xfeffffffffff + 1);
    expect(range.contains(0xfeffffffffff)).toBe(true);
    expect(range.contains(0xff0000000000)).toBe(false);
  });

  it('rejects start == end with upstream’s message (a one-address pool is invalid upstream too)', () => {
    const error = rangeError('02:00:00:00:00:00', '02:00:00:00:00:00');
    expect(error.code).toBe(PoolExceptionCode.RANGE_INVALID);
    expect(error.message).toBe('invalid range. rangeStart: 02:00:00:00:00:00 rangeEnd: 02:00:00:00:00:00');
  });

  it('rejects start > end, printing lowercase colon form', () => {
    expect(rangeError('0A:00:00:00:00:00', '02:00:00:00:00:00').message).toBe(
      'invalid range. rangeStart: 0a:00:00:00:00:00 rangeEnd: 02:00:00:00:00:00',
    );
  });

  it('rejects a start above the end that upstream’s octet-wise check accepts (a known upstream bug)', () => {
    // Upstream accepts this pair because octet 5 of the start is lower than octet 5 of the end.
    expect(rangeError('04:00:00:00:00:00', '02:00:00:00:00:01').code).toBe(PoolExceptionCode.RANGE_INVALID);
  });

  it('rejects a multicast start or end with upstream’s messages', () => {
    expect(rangeError('03:00:00:00:00:00', '06:00:00:00:00:00').message).toBe(
      'invalid range start: invalid mac address. Multicast addressing is not supported. Unicast addressing must be used. The first octet is 0X3',
    );
    expect(rangeError('02:00:00:00:00:00', '05:00:00:00:00:00').message).toBe(
      'invalid range end: invalid mac address. Multicast addressing is not supported. Unicast addressing must be used. The first octet is 0X5',
    );
    expect(rangeError('02:00:00:00:00:00', 'FF:00:00:00:00:00').message).toMatch(/The first octet is 0XFF$/);
  });

  it('checks the order before the multicast bit, as upstream does', () => {
    expect(rangeError('05:00:00:00:00:00', '03:00:00:00:00:00').message).toMatch(
      /^invalid range\. rangeStart/,
    );
  });

  it('does not enforce the locally-administered bit (upstream does not either)', () => {
    expect(MacRange.parse('04:00:00:00:00:00', '04:00:00:00:00:ff').size).toBe(256);
  });

  it('maps MACs to offsets and back', () => {
    const range = MacRange.parse('02:00:00:00:01:00', '02:00:00:00:01:ff');
    const mac = MacAddress.parse('02:00:00:00:01:10').value;
    expect(range.offsetOf(mac)).toBe(16);
    expect(range.valueAt(16)).toBe(mac);
    expect(range.contains(range.start.value - 1)).toBe(false);
  });
});
