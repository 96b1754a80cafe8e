import { parseWithoutManagedFields, withoutManagedFields } from './managed-fields';

/** What the text must parse to: the parsed text with every managedFields member deleted. */
function expected(text: string): unknown {
  return JSON.parse(text, function (this: Record<string, unknown>, key, value: unknown) {
    return key === 'managedFields' && Array.isArray(value) ? undefined : value;
  });
}

const MANAGED = [
  {
    manager: 'kubectl',
    operation: 'Update',
    fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {}, 'f:k8s.v1.cni.cncf.io/networks': {} } } },
  },
  { manager: 'kubelet', subresource: 'status', fieldsV1: { 'f:status': { 'k:{"type":"Ready"}': {} } } },
];

function pod(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { metadata: { name, namespace: 'ns', ...extra, managedFields: MANAGED, uid: `uid-${name}` } };
}

describe('withoutManagedFields', () => {
  it('drops the managedFields of every item of a list as the API server sends it, and nothing else', () => {
    const text = JSON.stringify({
      kind: 'PartialObjectMetadataList',
      metadata: { resourceVersion: '42', continue: 'abc' },
      items: [pod('a'), pod('b', { annotations: { x: 'y' } }), pod('c')],
    });
    const stripped = withoutManagedFields(text);
    expect(stripped).not.toContain('managedFields');
    expect(stripped.length).toBeLessThan(text.length / 2);
    expect(JSON.parse(stripped)).toEqual(expected(text));
  });

  it('keeps values that merely contain the word, escaped quotes and backslashes included', () => {
    const tricky = {
      metadata: {
        annotations: {
          note: '"managedFields":[1,2]',
          path: 'C:\\"managedFields":\\',
          nested: JSON.stringify({ managedFields: [{ a: ']' }] }),
        },
        'weird"managedFields': [1],
        managedFields: [{ manager: 'a]b[c}{', fieldsV1: { 'f:x': { '\\"': {} } } }],
      },
    };
    const text = JSON.stringify(tricky);
    const stripped = withoutManagedFields(text);
    expect(JSON.parse(stripped)).toEqual(expected(text));
    expect((JSON.parse(stripped) as typeof tricky).metadata.annotations).toEqual(tricky.metadata.annotations);
  });

  it('removes the member wherever it sits in its object, with the comma next to it, whitespace allowed', () => {
    for (const text of [
      '{"managedFields":[{"a":1}]}',
      '{"managedFields":[],"b":2}',
      '{"a":1,"managedFields":[[],{}]}',
      '{"a":1,"managedFields":[{"x":"]"}],"b":2}',
      '{ "a": 1 , "managedFields": [ {"x": 1} ] , "b": 2 }',
      '{\n  "a": 1,\n  "managedFields": [\n    {}\n  ]\n}',
    ]) {
      expect(JSON.parse(withoutManagedFields(text))).toEqual(expected(text));
    }
  });

  it('returns the text itself when there is nothing to drop, a value that is no array, or an array that never closes', () => {
    for (const text of [
      '{"items":[]}',
      '{"managedFields":null}',
      '{"managedFields":"[not an array]"}',
      '{"a":{"managedFields":[{"b":1}',
    ]) {
      expect(withoutManagedFields(text)).toBe(text);
    }
  });

  it('agrees with JSON.parse on random objects with managedFields at any depth', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)];
    const strings = [
      '',
      'a',
      '"',
      '\\',
      ']',
      '}',
      '"managedFields":[',
      '\\"managedFields\\":[',
      '{[',
      'é',
      '\u2028',
    ];
    const value = (depth: number): unknown => {
      const kind = depth > 3 ? pick(['s', 'n']) : pick(['s', 'n', 'a', 'o', 'o']);
      if (kind === 's') return pick(strings) + pick(strings);
      if (kind === 'n') return Math.floor(random() * 100);
      if (kind === 'a') return Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1));
      const object: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 4); i > 0; i--) object[pick(strings) + i] = value(depth + 1);
      if (random() < 0.5) object.managedFields = [value(depth + 1), value(depth + 1)];
      return object;
    };
    for (let i = 0; i < 500; i++) {
      const text = JSON.stringify({ items: [value(0), value(0)] }, undefined, random() < 0.3 ? 1 : undefined);
      expect(JSON.parse(withoutManagedFields(text))).toEqual(expected(text));
    }
  });

  it('parses the text as sent when the shortened one would not parse (an object with the key twice)', () => {
    const text = '{"a":1,"managedFields":[],"managedFields":[{"b":2}]}';
    expect(() => JSON.parse(withoutManagedFields(text))).toThrow();
    expect(parseWithoutManagedFields(text)).toEqual(JSON.parse(text));
    expect(parseWithoutManagedFields('{"a":1,"managedFields":[{"b":2}]}')).toEqual({ a: 1 });
  });
});
