import { MacAddress } from './mac-address';
import { formatSpan, mergeSpans, parseSpan, spansContain } from './mac-span';

const v = (text: string) => MacAddress.parse(text).value;

describe('MacSpan', () => {
  it('merges overlapping and adjacent spans, sorted', () => {
    expect(
      mergeSpans([
        { first: 20, last: 30 },
        { first: 1, last: 5 },
        { first: 6, last: 8 },
        { first: 25, last: 40 },
        { first: 50, last: 50 },
      ]),
    ).toEqual([
      { first: 1, last: 8 },
      { first: 20, last: 40 },
      { first: 50, last: 50 },
    ]);
  });

  it('tells whether a value lies in any span, both ends included', () => {
    const spans = [
      { first: 1, last: 5 },
      { first: 9, last: 9 },
    ];
    expect([0, 1, 5, 6, 9, 10].map((value) => spansContain(spans, value))).toEqual([
      false,
      true,
      true,
      false,
      true,
      false,
    ]);
  });

  it('formats as a pair of MACs and parses any notation back', () => {
    const span = { first: v('02:00:00:00:00:10'), last: v('02:00:00:00:04:0f') };
    expect(formatSpan(span)).toEqual(['02:00:00:00:00:10', '02:00:00:00:04:0f']);
    expect(parseSpan(['02-00-00-00-00-10', '0200.0000.040F'])).toEqual(span);
  });

  it('refuses what is not a span, naming it', () => {
    expect(() => parseSpan('02:00:00:00:00:10')).toThrow(
      '"02:00:00:00:00:10": not a MAC span (a pair of MACs)',
    );
    expect(() => parseSpan(['02:00:00:00:00:10'])).toThrow('not a MAC span');
    expect(() => parseSpan(['02:00:00:00:00:10', 'zz'])).toThrow();
    expect(() => parseSpan(['02:00:00:00:00:10', '02:00:00:00:00:0f'])).toThrow(
      '["02:00:00:00:00:10","02:00:00:00:00:0f"]: the span ends before it starts',
    );
  });
});
