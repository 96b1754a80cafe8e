import { MacAddress } from './mac-address';
import { PoolException, PoolExceptionCode } from './pool.exception';

describe('MacAddress', () => {
  it.each([
    ['02:00:00:00:00:01', '02:00:00:00:00:01'],
    ['02:AB:cd:EF:00:FF', '02:ab:cd:ef:00:ff'],
    ['02-00-00-00-00-01', '02:00:00:00:00:01'],
    ['0200.0000.0001', '02:00:00:00:00:01'],
    ['0A0B.0C0D.0E0F', '0a:0b:0c:0d:0e:0f'],
    ['ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff'],
    ['00:00:00:00:00:00', '00:00:00:00:00:00'],
  ])('parses %s as %s', (input, normalised) => {
    expect(MacAddress.parse(input).toString()).toBe(normalised);
  });

  it.each([
    '',
    '02:00:00:00:00',
    '02:00:00:00:00:01:02',
    '02:00-00:00:00:01',
    '02:00:00:00:00:0g',
    '2:0:0:0:0:1',
    ' 02:00:00:00:00:01',
    '02000000001',
    '0200.0000.0001.0002',
    '02:00:00:00:00:00:00:01',
    'not a mac',
  ])('rejects %j with upstream’s message and MAC_MALFORMED', (input) => {
    let caught: unknown;
    try {
      MacAddress.parse(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PoolException);
    expect((caught as PoolException).code).toBe(PoolExceptionCode.MAC_MALFORMED);
    expect((caught as PoolException).message).toBe(`address ${input}: invalid MAC address`);
  });

  it('rejects values that are not strings without throwing a TypeError', () => {
    expect(MacAddress.tryParseValue(42 as unknown as string)).toBeUndefined();
  });

  it('round-trips values through format', () => {
    for (const value of [0, 1, 255, 256, 2 ** 40, 2 ** 41 + 12345, 2 ** 48 - 1]) {
      expect(MacAddress.parse(MacAddress.format(value)).value).toBe(value);
    }
  });

  it('carries across octets in next() (upstream getNextMac)', () => {
    expect(MacAddress.parse('02:00:00:00:00:FF').next().toString()).toBe('02:00:00:00:01:00');
    expect(MacAddress.parse('02:00:FF:FF:FF:FF').next().toString()).toBe('02:01:00:00:00:00');
    expect(MacAddress.parse('FF:FF:FF:FF:FF:FF').next().toString()).toBe('00:00:00:00:00:00');
  });

  it('reads the multicast bit from the first octet', () => {
    expect(MacAddress.parse('03:00:00:00:00:00').isMulticast).toBe(true);
    expect(MacAddress.parse('02:ff:ff:ff:ff:ff').isMulticast).toBe(false);
    expect(MacAddress.parse('ff:00:00:00:00:00').firstOctet).toBe(255);
  });

  it('rejects out-of-range values in fromValue', () => {
    expect(() => MacAddress.fromValue(-1)).toThrow(PoolException);
    expect(() => MacAddress.fromValue(2 ** 48)).toThrow(PoolException);
    expect(() => MacAddress.fromValue(1.5)).toThrow(PoolException);
  });

  it('serialises to JSON as the normalised string', () => {
    expect(JSON.stringify({ mac: MacAddress.parse('0200.0000.00AA') })).toBe('{"mac":"02:00:00:00:00:aa"}');
  });
});
