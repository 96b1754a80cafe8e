import { addAnnotation, escapePointerToken, pointer } from './json-patch';

describe('JSON patch helpers', () => {
  it('escapes pointer tokens as RFC 6901 says', () => {
    expect(escapePointerToken('k8s.v1.cni.cncf.io/networks')).toBe('k8s.v1.cni.cncf.io~1networks');
    expect(escapePointerToken('a~b/c')).toBe('a~0b~1c');
    expect(pointer('spec', 'template', 'interfaces', 3, 'macAddress')).toBe(
      '/spec/template/interfaces/3/macAddress',
    );
  });

  it('adds the whole annotation map when there is none or it is empty', () => {
    expect(addAnnotation(undefined, 'kubemacpool.io/transaction-timestamp', 't')).toEqual({
      op: 'add',
      path: '/metadata/annotations',
      value: { 'kubemacpool.io/transaction-timestamp': 't' },
    });
    expect(addAnnotation({}, 'a/b', 'v').path).toBe('/metadata/annotations');
    expect(addAnnotation({ x: '1' }, 'a/b', 'v')).toEqual({
      op: 'add',
      path: '/metadata/annotations/a~1b',
      value: 'v',
    });
  });
});
