import { WHOLE_MAC_SPACE } from '../pool/mac-span';
import { ClaimLedger, claimSize, claimsOf, formatClaims, parseClaims } from './range-claims';

const span = (first: number, last: number) => ({ first, last });

describe('range claims', () => {
  it('round-trips through the annotation JSON', () => {
    const claims = {
      claimed: [span(0x020000000010, 0x02000000040f)],
      inherited: [span(0x020000000500, 0x020000000500)],
    };
    const text = formatClaims(claims);
    expect(JSON.parse(text)).toEqual({
      claimed: [['02:00:00:00:00:10', '02:00:00:00:04:0f']],
      inherited: [['02:00:00:00:05:00', '02:00:00:00:05:00']],
    });
    expect(parseClaims(text)).toEqual({ claims });
  });

  it('reads no annotation as no claims, and an unreadable one as every MAC, saying why', () => {
    expect(parseClaims(undefined)).toEqual({ claims: { claimed: [], inherited: [] } });
    for (const text of ['not json', '{"claimed":[["02:00:00:00:00:10"]],"inherited":[]}', '{"claimed":[]}']) {
      const parsed = parseClaims(text);
      expect(parsed.claims).toEqual({ claimed: [WHOLE_MAC_SPACE], inherited: [] });
      expect(parsed.problem).toEqual(expect.any(String));
    }
    expect(parseClaims('{"claimed":[]}').problem).toBe('undefined: not a list of MAC spans');
  });

  it('holds back a record’s claims; every MAC of a record without any; nothing without a record', () => {
    const claims = { claimed: [span(1, 2)], inherited: [span(5, 6)] };
    expect(claimsOf({ claims })).toBe(claims);
    expect(claimsOf({})).toEqual({ claimed: [WHOLE_MAC_SPACE], inherited: [] });
    expect(claimsOf(undefined)).toEqual({ claimed: [], inherited: [] });
  });

  it('claims twice the recent allocations, at least 1024, at most a sixteenth of what is free (at least 1)', () => {
    expect([0, 15, 16, 160, 16_384, 1 << 24].map((free) => claimSize(free))).toEqual([
      1, 1, 1, 10, 1024, 1024,
    ]);
    expect(claimSize(1 << 24, 3000)).toBe(6000);
    expect(claimSize(1 << 24, 100)).toBe(1024);
    expect(claimSize(32_000, 3000)).toBe(2000);
  });

  describe('ClaimLedger', () => {
    it('holds back what the predecessor claimed and inherited, for the hold time from taking over', () => {
      const ledger = new ClaimLedger(70_000);
      ledger.inherit({ claimed: [span(10, 20)], inherited: [span(21, 30), span(100, 110)] }, 1_000);
      expect(ledger.blocked(1_000)).toEqual([span(10, 30), span(100, 110)]);
      expect(ledger.blocked(70_999)).toEqual([span(10, 30), span(100, 110)]);
      expect(ledger.blocked(71_000)).toEqual([]);
      expect(ledger.current).toEqual([]);
      expect(ledger.proposal([span(40, 50)], 2_000)).toEqual({
        claimed: [span(40, 50)],
        inherited: [span(10, 30), span(100, 110)],
      });
      expect(ledger.proposal([span(40, 50)], 71_000).inherited).toEqual([]);
    });

    it('allocates in a claim only once adopted, and keeps publishing a replaced claim for the hold time', () => {
      const ledger = new ClaimLedger(10_000);
      ledger.inherit({ claimed: [], inherited: [] }, 0);
      ledger.adopt([span(40, 50)], 100);
      expect(ledger.current).toEqual([span(40, 50)]);
      // The next write publishes the claim it adopts together with the one allocation still uses.
      expect(ledger.proposal([span(45, 60)], 2_000).claimed).toEqual([span(40, 60)]);
      ledger.adopt([span(45, 60)], 2_100);
      expect(ledger.current).toEqual([span(45, 60)]);
      ledger.adopt([span(80, 90)], 4_000);
      expect(ledger.proposal([span(80, 95)], 12_099).claimed).toEqual([span(40, 60), span(80, 95)]);
      // [40, 50] was replaced at 2 100, [45, 60] at 4 000: each stays published for 10 s after that.
      expect(ledger.proposal([span(80, 95)], 12_100).claimed).toEqual([span(45, 60), span(80, 95)]);
      expect(ledger.proposal([span(80, 95)], 14_000).claimed).toEqual([span(80, 95)]);
    });

    it('forgets everything on stepping down', () => {
      const ledger = new ClaimLedger(10_000);
      ledger.inherit({ claimed: [span(1, 2)], inherited: [] }, 0);
      ledger.adopt([span(5, 6)], 1);
      ledger.reset();
      expect(ledger.current).toEqual([]);
      expect(ledger.blocked(2)).toEqual([]);
      expect(ledger.proposal([], 2)).toEqual({ claimed: [], inherited: [] });
    });
  });
});
