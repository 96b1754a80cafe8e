import { MacAddress } from './mac-address';
import { PoolException, PoolExceptionCode } from './pool.exception';

const MULTICAST_MESSAGE =
  'invalid mac address. Multicast addressing is not supported. Unicast addressing must be used. The first octet is ';

/** Go's `%#0X` of a byte, as upstream prints the first octet: `0X` and uppercase hex without a leading zero. */
function goHexByte(octet: number): string {
  return '0X' + octet.toString(16).toUpperCase();
}

/**
 * An inclusive range of MAC addresses the pool allocates from. Validation follows upstream's order and messages
 * (`pkg/pool-manager/pool.go`) with one deliberate fix: start and end are compared as 48-bit integers, so a start above the end is
 * always rejected (upstream's octet-wise check accepts some of those, a known upstream bug).
 */
export class MacRange {
  /** Number of addresses in the range, end included; at most 2^48. */
  readonly size: number;

  constructor(
    readonly start: MacAddress,
    readonly end: MacAddress,
  ) {
    if (start.value >= end.value) {
      throw new PoolException(
        PoolExceptionCode.RANGE_INVALID,
        `invalid range. rangeStart: ${start} rangeEnd: ${end}`,
      );
    }
    if (start.isMulticast) {
      throw new PoolException(
        PoolExceptionCode.RANGE_INVALID,
        `invalid range start: ${MULTICAST_MESSAGE}${goHexByte(start.firstOctet)}`,
      );
    }
    if (end.isMulticast) {
      throw new PoolException(
        PoolExceptionCode.RANGE_INVALID,
        `invalid range end: ${MULTICAST_MESSAGE}${goHexByte(end.firstOctet)}`,
      );
    }
    this.size = MacRange.sizeOf(start, end);
  }

  /** Parses and validates a range from two MAC strings (any accepted notation). */
  static parse(start: string, end: string): MacRange {
    return new MacRange(MacAddress.parse(start), MacAddress.parse(end));
  }

  /** Upstream's pool size: end - start + 1, read as big-endian integers. Negative when end < start. */
  static sizeOf(start: MacAddress, end: MacAddress): number {
    return end.value - start.value + 1;
  }

  contains(value: number): boolean {
    return value >= this.start.value && value <= this.end.value;
  }

  /** Position of a MAC inside the range (0 for the start). */
  offsetOf(value: number): number {
    return value - this.start.value;
  }

  valueAt(offset: number): number {
    return this.start.value + offset;
  }

  equals(other: MacRange): boolean {
    return this.start.equals(other.start) && this.end.equals(other.end);
  }

  toString(): string {
    return `${this.start} - ${this.end}`;
  }
}
