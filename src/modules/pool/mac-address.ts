import { PoolException, PoolExceptionCode } from './pool.exception';

/** 2^48: the number of 48-bit MAC addresses. Every MAC fits exactly in a JS number (< 2^53). */
export const MAC_SPACE = 2 ** 48;

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

// The three notations Go's net.ParseMAC accepts for 6-octet addresses (upstream parses with it): one separator,
// used consistently. 8- and 20-octet (EUI-64, IPoIB) values are rejected on purpose: a pool of 48-bit ranges
// cannot hold them, and upstream's range code mishandles them.
const COLON_OR_HYPHEN =
  /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;
const DOTTED = /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i;

/**
 * A 48-bit MAC address as an immutable value. It parses colon, hyphen and dotted notations in any case and always
 * prints the normalised lowercase colon form, which is the form stored in annotations and compared everywhere.
 */
export class MacAddress {
  private constructor(readonly value: number) {}

  /** Parses a MAC in any accepted notation; the error message is upstream's (`address <v>: invalid MAC address`). */
  static parse(text: string): MacAddress {
    const value = MacAddress.tryParseValue(text);
    if (value === undefined) {
      throw new PoolException(PoolExceptionCode.MAC_MALFORMED, `address ${text}: invalid MAC address`);
    }
    return new MacAddress(value);
  }

  /** The 48-bit value of a MAC in any accepted notation, or undefined when the text is not one. */
  static tryParseValue(text: string): number | undefined {
    if (typeof text !== 'string') return undefined;
    let hex: string;
    const separated = COLON_OR_HYPHEN.exec(text);
    if (separated) {
      hex = separated[1] + separated[3] + separated[4] + separated[5] + separated[6] + separated[7];
    } else {
      const dotted = DOTTED.exec(text);
      if (!dotted) return undefined;
      hex = dotted[1] + dotted[2] + dotted[3];
    }
    return parseInt(hex, 16);
  }

  static fromValue(value: number): MacAddress {
    if (!Number.isInteger(value) || value < 0 || value >= MAC_SPACE) {
      throw new PoolException(PoolExceptionCode.MAC_MALFORMED, `value ${value} is not a 48-bit MAC address`);
    }
    return new MacAddress(value);
  }

  /** Normalised lowercase colon form of a 48-bit value, without allocating a MacAddress. */
  static format(value: number): string {
    const high = Math.floor(value / 0x1000000);
    const low = value % 0x1000000;
    return (
      HEX_BYTE[(high >>> 16) & 0xff] +
      ':' +
      HEX_BYTE[(high >>> 8) & 0xff] +
      ':' +
      HEX_BYTE[high & 0xff] +
      ':' +
      HEX_BYTE[(low >>> 16) & 0xff] +
      ':' +
      HEX_BYTE[(low >>> 8) & 0xff] +
      ':' +
      HEX_BYTE[low & 0xff]
    );
  }

  /** The first octet; its lowest bit is the multicast (group) bit. */
  get firstOctet(): number {
    return Math.floor(this.value / 2 ** 40);
  }

  get isMulticast(): boolean {
    return (this.firstOctet & 1) === 1;
  }

  /** The following address, carrying across all six octets; ff:ff:ff:ff:ff:ff wraps to 00:00:00:00:00:00. */
  next(): MacAddress {
    return new MacAddress((this.value + 1) % MAC_SPACE);
  }

  equals(other: MacAddress): boolean {
    return this.value === other.value;
  }

  toString(): string {
    return MacAddress.format(this.value);
  }

  toJSON(): string {
    return this.toString();
  }
}
