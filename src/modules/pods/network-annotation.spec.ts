import { MacAddress } from '../pool/mac-address';
import { seededRandom } from '../../../test/fixtures/seeded-random';
import {
  MAX_NETWORKS,
  NETWORK_STATUS_ANNOTATION,
  NETWORKS_ANNOTATION,
  NetworkAnnotationError,
  parseNetworksAnnotation,
  ParsedNetworks,
  serializeNetworks,
} from './network-annotation';

const JSON_PREFIX =
  'parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format: ';
const MAC1 = '02:00:00:00:00:01';
const MAC2 = '02:00:00:00:00:02';

function parseError(value: string): NetworkAnnotationError {
  try {
    parseNetworksAnnotation(value);
  } catch (error) {
    expect(error).toBeInstanceOf(NetworkAnnotationError);
    return error as NetworkAnnotationError;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
}

/** Sets `mac` on every network, as the mutator does for a pod none of whose networks asked for one. */
function withMacs(parsed: ParsedNetworks, mac = MAC1): string {
  return serializeNetworks(parsed, new Map(parsed.networks.map((_, index) => [index, mac])));
}

// A seeded generator, so a failing fuzz case can be replayed from its seed.
const random = seededRandom;

describe('network annotation', () => {
  it('names the Multus annotations', () => {
    expect(NETWORKS_ANNOTATION).toBe('k8s.v1.cni.cncf.io/networks');
    expect(NETWORK_STATUS_ANNOTATION).toBe('k8s.v1.cni.cncf.io/network-status');
  });

  describe('JSON form', () => {
    it('reads and writes upstream’s example pod (doc/pod-creation-example.md)', () => {
      const parsed = parseNetworksAnnotation('[{ "name": "ovs-conf"}]');
      expect(parsed.format).toBe('json');
      expect(parsed.networks).toEqual([
        { name: 'ovs-conf', raw: { name: 'ovs-conf' }, source: '{"name":"ovs-conf"}' },
      ]);
      expect(serializeNetworks(parsed, new Map([[0, MAC1]]))).toBe(
        '[{"name":"ovs-conf","mac":"02:00:00:00:00:01"}]',
      );
    });

    it('reads name, namespace, interface and the requested MAC as written', () => {
      const parsed = parseNetworksAnnotation(
        '[{"name":"br1","namespace":"ns1","interface":"eth1","mac":"02-AA-00-00-00-01"},{"name":"br2"}]',
      );
      expect(
        parsed.networks.map(({ name, namespace, interface: iface, mac }) => [name, namespace, iface, mac]),
      ).toEqual([
        ['br1', 'ns1', 'eth1', '02-AA-00-00-00-01'],
        ['br2', undefined, undefined, undefined],
      ]);
    });

    it('keeps a MAC the parser cannot read, for the caller to report with its context', () => {
      expect(parseNetworksAnnotation('[{"name":"a","mac":"not a mac"}]').networks[0].mac).toBe('not a mac');
    });

    it('uses the deprecated interfaceRequest only when interface is empty, as Multus does', () => {
      const { networks } = parseNetworksAnnotation(
        '[{"name":"a","interfaceRequest":"old"},{"name":"b","interface":"new","interfaceRequest":"old"},' +
          '{"name":"c","interface":"","interfaceRequest":"old"}]',
      );
      expect(networks.map((network) => network.interface)).toEqual(['old', 'new', 'old']);
    });

    it('treats empty strings and null in optional fields as absent, as Go’s decoder does', () => {
      const parsed = parseNetworksAnnotation(
        '[{"name":"a","namespace":"","mac":"","interface":null,"ips":null,"cni-args":null,"bandwidth":null}]',
      );
      expect(parsed.networks[0]).toMatchObject({ name: 'a', namespace: undefined, mac: undefined });
      expect(parsed.networks[0].interface).toBeUndefined();
      expect(withMacs(parsed)).toBe(
        '[{"name":"a","namespace":"","mac":"02:00:00:00:00:01","interface":null,"ips":null,"cni-args":null,' +
          '"bandwidth":null}]',
      );
    });

    it('replaces a null mac in place', () => {
      expect(withMacs(parseNetworksAnnotation('[{"mac":null,"name":"a"}]'))).toBe(
        `[{"mac":"${MAC1}","name":"a"}]`,
      );
    });

    it('accepts every known field with its type', () => {
      const element = {
        name: 'a',
        namespace: 'ns',
        ips: ['10.10.0.1/24'],
        mac: MAC2,
        'infiniband-guid': 'c2:11:22:33:44:55:66:77',
        interface: 'net1',
        interfaceRequest: 'net1',
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
        bandwidth: { ingressRate: 2048, egressRate: 1024 },
        deviceID: '0000:00:1f.6',
        'cni-args': { vlan: 100 },
        'default-route': ['10.10.0.254'],
      };
      const text = JSON.stringify([element]);
      const parsed = parseNetworksAnnotation(text);
      expect(parsed.networks[0].raw).toEqual(element);
      expect(serializeNetworks(parsed, new Map())).toBe(text);
    });

    it('keeps unknown fields, number spellings and escapes exactly (upstream drops them)', () => {
      const text =
        '[{"name":"a","x-vendor":{"big":12345678901234567890,"f":2.50,"e":1E3,"list":[true,null,{"k":"v"}]},' +
        '"note":"tab\\there \\u00e9\\/"}]';
      const parsed = parseNetworksAnnotation(text);
      expect(parsed.networks[0].raw['x-vendor']).toEqual({
        // JSON.parse rounds it; the serialised text below still carries every digit.
        big: Number('12345678901234567890'),
        f: 2.5,
        e: 1000,
        list: [true, null, { k: 'v' }],
      });
      expect(serializeNetworks(parsed, new Map())).toBe(text);
      expect(serializeNetworks(parsed, new Map([[0, MAC1]]))).toBe(`${text.slice(0, -2)},"mac":"${MAC1}"}]`);
    });

    it('keeps the order of fields, integer-like keys included, and appends a missing mac last', () => {
      const parsed = parseNetworksAnnotation('[{"zeta":1,"name":"a","10":true,"alpha":{"2":0,"1":0}}]');
      expect(withMacs(parsed)).toBe(
        `[{"zeta":1,"name":"a","10":true,"alpha":{"2":0,"1":0},"mac":"${MAC1}"}]`,
      );
    });

    it('replaces an existing mac in place', () => {
      const parsed = parseNetworksAnnotation('[{"name":"a","mac":"02:00:00:00:00:ff","interface":"eth1"}]');
      expect(parsed.networks[0].mac).toBe('02:00:00:00:00:ff');
      expect(
        serializeNetworks(parsed, new Map([[0, MacAddress.parse('02:00:00:00:00:ff').toString()]])),
      ).toBe('[{"name":"a","mac":"02:00:00:00:00:ff","interface":"eth1"}]');
      expect(withMacs(parsed, MAC2)).toBe(`[{"name":"a","mac":"${MAC2}","interface":"eth1"}]`);
    });

    it('sets MACs only on the networks in the map and leaves the others as written, without whitespace', () => {
      const parsed = parseNetworksAnnotation(
        ' [ {"name" : "a"} ,\n\t{ "name":"b", "mac" : "02:00:00:00:00:09" }, {"name":"c"} ] ',
      );
      expect(serializeNetworks(parsed, new Map([[2, MAC2]]))).toBe(
        `[{"name":"a"},{"name":"b","mac":"02:00:00:00:00:09"},{"name":"c","mac":"${MAC2}"}]`,
      );
    });

    it('is not confused by quotes, brackets, commas and whitespace inside strings', () => {
      const text = '[{"name":"a","note":"x\\", } ] { [\\\\","tricky key, \\"mac\\"":"  ,{}"},{"name":"b"}]';
      const parsed = parseNetworksAnnotation(text);
      expect(parsed.networks.map((network) => network.name)).toEqual(['a', 'b']);
      expect(parsed.networks[0].mac).toBeUndefined();
      expect(JSON.parse(withMacs(parsed))).toEqual([
        { name: 'a', note: 'x", } ] { [\\', 'tricky key, "mac"': '  ,{}', mac: MAC1 },
        { name: 'b', mac: MAC1 },
      ]);
    });

    it('reads keys the way Go does: escaped, case-insensitive, last occurrence wins', () => {
      const parsed = parseNetworksAnnotation(
        '[{"n\\u0061me":"a","MAC":"02:00:00:00:00:0a","Namespace":"ns1","namespace":"ns2"},' +
          '{"name":"b","mac":"02:00:00:00:00:0b","mac":"02:00:00:00:00:0c"},{"name":"c","Name":"d","name":null}]',
      );
      expect(parsed.networks.map(({ name, namespace, mac }) => [name, namespace, mac])).toEqual([
        ['a', 'ns2', '02:00:00:00:00:0a'],
        ['b', undefined, '02:00:00:00:00:0c'],
        ['d', undefined, undefined],
      ]);
      // Every occurrence is replaced, so Multus reads the new MAC whichever one it takes.
      expect(
        serializeNetworks(
          parsed,
          new Map([
            [0, MAC1],
            [1, MAC2],
          ]),
        ),
      ).toBe(
        `[{"n\\u0061me":"a","MAC":"${MAC1}","Namespace":"ns1","namespace":"ns2"},` +
          `{"name":"b","mac":"${MAC2}","mac":"${MAC2}"},{"name":"c","Name":"d","name":null}]`,
      );
    });

    it('reads an empty list as no networks', () => {
      expect(parseNetworksAnnotation(' [ ] ')).toEqual({ format: 'json', networks: [] });
      expect(serializeNetworks(parseNetworksAnnotation('[]'), new Map())).toBe('[]');
    });

    it('rejects the upstream example of an IP written as a string with the element, field and value', () => {
      expect(parseError('[{"name":"a","ips":"10.10.0.1"}]').message).toBe(
        'network 0: "ips" must be an array of strings, got "10.10.0.1"',
      );
    });

    it.each([
      ['[{"name":5}]', 'network 0: "name" must be a string, got 5'],
      ['[{"namespace":"ns"}]', 'network 0: "name" is required'],
      ['[{"name":null}]', 'network 0: "name" is required'],
      ['[{"name":""}]', 'network 0: "name" must not be empty'],
      ['[{"name":"a"},{"name":"b","namespace":7}]', 'network 1: "namespace" must be a string, got 7'],
      [
        '[{"name":"a","ips":["10.0.0.1",5]}]',
        'network 0: "ips" must be an array of strings, got ["10.0.0.1",5]',
      ],
      ['[{"name":"a","mac":2}]', 'network 0: "mac" must be a string, got 2'],
      ['[{"name":"a","MAC":{"a":1}}]', 'network 0: "MAC" must be a string, got {"a":1}'],
      ['[{"name":"a","infiniband-guid":false}]', 'network 0: "infiniband-guid" must be a string, got false'],
      ['[{"name":"a","interface":["eth0"]}]', 'network 0: "interface" must be a string, got ["eth0"]'],
      ['[{"name":"a","interfaceRequest":{}}]', 'network 0: "interfaceRequest" must be a string, got {}'],
      [
        '[{"name":"a","portMappings":{"hostPort":1}}]',
        'network 0: "portMappings" must be an array of objects, got {"hostPort":1}',
      ],
      ['[{"name":"a","portMappings":[1]}]', 'network 0: "portMappings" must be an array of objects, got [1]'],
      ['[{"name":"a","bandwidth":[1]}]', 'network 0: "bandwidth" must be an object, got [1]'],
      ['[{"name":"a","deviceID":1.5}]', 'network 0: "deviceID" must be a string, got 1.5'],
      ['[{"name":"a","cni-args":"x=y"}]', 'network 0: "cni-args" must be an object, got "x=y"'],
      [
        '[{"name":"a","default-route":["10.0.0.1",null]}]',
        'network 0: "default-route" must be an array of strings, got ["10.0.0.1",null]',
      ],
      [
        '[{"name":"a","ips":"x","ips":["10.0.0.1"]}]',
        'network 0: "ips" must be an array of strings, got "x"',
      ],
    ])('rejects %s', (value, message) => {
      expect(parseError(value).message).toBe(message);
    });

    it.each([
      ['["net1"]', 'network 0: must be a JSON object, got "net1"'],
      ['[{"name":"a"},1]', 'network 1: must be a JSON object, got 1'],
      ['[null]', 'network 0: must be a JSON object, got null'],
      ['[[{"name":"a"}]]', 'network 0: must be a JSON object, got [{"name":"a"}]'],
    ])('rejects the element that is not an object in %s', (value, message) => {
      expect(parseError(value).message).toBe(message);
    });

    it('rejects a single object, which upstream also fails to parse, with a hint', () => {
      expect(parseError('{"name":"ovs-conf"}').message).toBe(
        `${JSON_PREFIX}expected a JSON list of network selection elements, got a JSON object ` +
          '(a single network is still written as a list: [{"name":...}])',
      );
    });

    it.each([
      ['"net1"', 'a JSON string'],
      ['"[1]"', 'a JSON string'],
    ])('rejects %s, which is JSON but not a list', (value, kind) => {
      expect(parseError(value).message).toBe(
        `${JSON_PREFIX}expected a JSON list of network selection elements, got ${kind}`,
      );
    });

    it('reads a bare null or number as a short-form name, since only [, { and " select JSON (upstream’s rule)', () => {
      expect(parseNetworksAnnotation('null').networks).toEqual([{ name: 'null', raw: { name: 'null' } }]);
      expect(parseNetworksAnnotation('5').format).toBe('short');
    });

    it.each([
      '[{"name":"a",}]',
      '[',
      '{',
      '"',
      '[{"name":"a"}] x',
      "[{'name':'a'}]",
      '[{"name":"a"}]]',
      'net1,{',
    ])('reports the JSON syntax error in %s with upstream’s prefix', (value) => {
      const message = parseError(value).message;
      expect(message.startsWith(JSON_PREFIX)).toBe(true);
      expect(message.length).toBeGreaterThan(JSON_PREFIX.length);
    });

    it('cuts long values short in messages', () => {
      const message = parseError(`[{"name":"a","ips":"${'1'.repeat(100_000)}"}]`).message;
      expect(message).toBe(`network 0: "ips" must be an array of strings, got "${'1'.repeat(79)}…`);
    });

    it('keeps unknown fields nested deeper than JSON.stringify could recurse', () => {
      const depth = 200_000;
      const text = `[{"name":"a","deep":${'['.repeat(depth)}${']'.repeat(depth)}}]`;
      const parsed = parseNetworksAnnotation(text);
      expect(serializeNetworks(parsed, new Map([[0, MAC1]]))).toBe(`${text.slice(0, -2)},"mac":"${MAC1}"}]`);
      expect(parseError(`[{"name":${'['.repeat(depth)}${']'.repeat(depth)}}]`).message).toMatch(
        /^network 0: "name" must be a string, got \[\[\[/,
      );
    });
  });

  describe('empty annotation', () => {
    it.each(['', ' ', '\n\t  '])('reads %j as no networks (upstream denies the pod)', (value) => {
      const parsed = parseNetworksAnnotation(value);
      expect(parsed.networks).toEqual([]);
      expect(serializeNetworks(parsed, new Map())).toBe('[]');
    });
  });

  describe('short form', () => {
    it('reads namespaces and interfaces (upstream ignores the short form)', () => {
      const parsed = parseNetworksAnnotation(
        ' net1, ns2/net2 ,net3@eth1,ns4/net4@eth4 , ns-5 / net.5 @ net5 ',
      );
      expect(parsed.format).toBe('short');
      expect(parsed.networks).toEqual([
        { name: 'net1', raw: { name: 'net1' } },
        { name: 'net2', namespace: 'ns2', raw: { name: 'net2', namespace: 'ns2' } },
        { name: 'net3', interface: 'eth1', raw: { name: 'net3', interface: 'eth1' } },
        {
          name: 'net4',
          namespace: 'ns4',
          interface: 'eth4',
          raw: { name: 'net4', namespace: 'ns4', interface: 'eth4' },
        },
        {
          name: 'net.5',
          namespace: 'ns-5',
          interface: 'net5',
          raw: { name: 'net.5', namespace: 'ns-5', interface: 'net5' },
        },
      ]);
    });

    it('is written as a JSON list, since the short form cannot carry a MAC', () => {
      const parsed = parseNetworksAnnotation('net1,ns2/net2@eth2,net3@eth3');
      expect(
        serializeNetworks(
          parsed,
          new Map([
            [1, MAC1],
            [2, MAC2],
          ]),
        ),
      ).toBe(
        `[{"name":"net1"},{"name":"net2","namespace":"ns2","interface":"eth2","mac":"${MAC1}"},` +
          `{"name":"net3","interface":"eth3","mac":"${MAC2}"}]`,
      );
      const reparsed = parseNetworksAnnotation(withMacs(parsed));
      expect(reparsed.format).toBe('json');
      expect(
        reparsed.networks.map(({ name, namespace, interface: iface, mac }) => [name, namespace, iface, mac]),
      ).toEqual([
        ['net1', undefined, undefined, MAC1],
        ['net2', 'ns2', 'eth2', MAC1],
        ['net3', undefined, 'eth3', MAC1],
      ]);
    });

    it.each([
      ['a,,b', 'network 1: empty entry, expected [<namespace>/]<name>[@<interface>]'],
      ['a,', 'network 1: empty entry, expected [<namespace>/]<name>[@<interface>]'],
      [',a', 'network 0: empty entry, expected [<namespace>/]<name>[@<interface>]'],
      ['a, ,b', 'network 1: empty entry, expected [<namespace>/]<name>[@<interface>]'],
      ['a/b/c', `network 0 "a/b/c": more than one '/', expected [<namespace>/]<name>[@<interface>]`],
      ['net@eth@1', `network 0 "net@eth@1": more than one '@', expected [<namespace>/]<name>[@<interface>]`],
      ['/net', 'network 0 "/net": namespace "" is not a DNS-1123 label'],
      ['Ns/net', 'network 0 "Ns/net": namespace "Ns" is not a DNS-1123 label'],
      ['n.s/net', 'network 0 "n.s/net": namespace "n.s" is not a DNS-1123 label'],
      [`${'n'.repeat(64)}/net`, `namespace "${'n'.repeat(64)}" is not a DNS-1123 label`],
      ['ns/', 'network 0 "ns/": name "" is not a DNS-1123 subdomain'],
      ['@eth1', 'network 0 "@eth1": name "" is not a DNS-1123 subdomain'],
      ['a,Net1', 'network 1 "Net1": name "Net1" is not a DNS-1123 subdomain'],
      ['net_1', 'network 0 "net_1": name "net_1" is not a DNS-1123 subdomain'],
      ['-net', 'network 0 "-net": name "-net" is not a DNS-1123 subdomain'],
      ['net-', 'network 0 "net-": name "net-" is not a DNS-1123 subdomain'],
      ['net..1', 'network 0 "net..1": name "net..1" is not a DNS-1123 subdomain'],
      ['net@', `network 0 "net@": interface "" must be non-empty, without '/', '@' or whitespace`],
      [
        'net@eth 1',
        `network 0 "net@eth 1": interface "eth 1" must be non-empty, without '/', '@' or whitespace`,
      ],
      [
        'net@eth/1',
        `network 0 "net@eth/1": interface "eth/1" must be non-empty, without '/', '@' or whitespace`,
      ],
    ])('rejects %j', (value, message) => {
      expect(parseError(value).message).toContain(message);
    });

    it('accepts a name of 253 characters and rejects one of 254', () => {
      const name = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
      expect(parseNetworksAnnotation(name).networks[0].name).toBe(name);
      expect(parseError(`${name}d`).message).toContain('is not a DNS-1123 subdomain');
    });
  });

  describe('limits', () => {
    it(`accepts ${MAX_NETWORKS} networks in either form`, () => {
      const names = Array.from({ length: MAX_NETWORKS }, (_, i) => `net${i}`);
      expect(parseNetworksAnnotation(names.join(',')).networks).toHaveLength(MAX_NETWORKS);
      const parsed = parseNetworksAnnotation(JSON.stringify(names.map((name) => ({ name }))));
      expect(parsed.networks).toHaveLength(MAX_NETWORKS);
      expect(parsed.networks[MAX_NETWORKS - 1].name).toBe(`net${MAX_NETWORKS - 1}`);
    });

    it('rejects one network more in either form', () => {
      const names = Array.from({ length: MAX_NETWORKS + 1 }, (_, i) => `net${i}`);
      expect(parseError(names.join(',')).message).toBe('too many networks: 1001 (at most 1000)');
      expect(parseError(JSON.stringify(names.map((name) => ({ name })))).message).toBe(
        'too many networks: 1001 (at most 1000)',
      );
    });

    it('rejects a 2 MB annotation of 20,000 networks by counting them', () => {
      const element = JSON.stringify({ name: 'n', 'x-pad': 'p'.repeat(80) });
      const text = `[${Array.from({ length: 20_000 }, () => element).join(',')}]`;
      expect(text.length).toBeGreaterThan(2_000_000);
      expect(parseError(text).message).toBe('too many networks: 20000 (at most 1000)');
      expect(parseError(Array.from({ length: 20_000 }, (_, i) => `net${i}`).join(',')).message).toBe(
        'too many networks: 20000 (at most 1000)',
      );
    });

    it('reads and writes a 2 MB annotation within the limit', () => {
      const text = JSON.stringify(
        Array.from({ length: MAX_NETWORKS }, (_, i) => ({ name: `net${i}`, 'x-pad': 'p'.repeat(2_000) })),
      );
      expect(text.length).toBeGreaterThan(2_000_000);
      const parsed = parseNetworksAnnotation(text);
      expect(parsed.networks).toHaveLength(MAX_NETWORKS);
      const written = withMacs(parsed);
      expect(written.length).toBe(text.length + MAX_NETWORKS * `,"mac":"${MAC1}"`.length);
      expect(parseNetworksAnnotation(written).networks.every((network) => network.mac === MAC1)).toBe(true);
    });
  });

  describe('prototype pollution', () => {
    afterEach(() => {
      delete (Object.prototype as Record<string, unknown>).polluted;
    });

    it('leaves Object.prototype alone and keeps a __proto__ key as an own field', () => {
      const parsed = parseNetworksAnnotation(
        '[{"name":"a","__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}}}]',
      );
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const raw = parsed.networks[0].raw;
      expect(Object.hasOwn(raw, '__proto__')).toBe(true);
      expect(Object.getPrototypeOf(raw)).toBe(Object.prototype);
      const written = withMacs(parsed);
      expect(written).toBe(
        `[{"name":"a","__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"mac":"${MAC1}"}]`,
      );
      parseNetworksAnnotation(written);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('does not read known fields from Object.prototype', () => {
      (Object.prototype as Record<string, unknown>).polluted = 'x';
      expect(parseError('[{"__proto__":{"name":"a"}}]').message).toBe('network 0: "name" is required');
      expect(parseNetworksAnnotation('[{"name":"a","toString":1,"hasOwnProperty":2}]').networks[0].name).toBe(
        'a',
      );
    });
  });

  describe('robustness', () => {
    const seeds = [
      '[{"name":"a","namespace":"ns","mac":"02:00:00:00:00:01","ips":["10.0.0.1"],"x":{"y":[1,"}",null]}}]',
      '[{ "name": "ovs-conf"},{"name":"b","interface":"eth1","cni-args":null,"MAC":"x"}]',
      'net1, ns2/net2@eth1 ,net3',
      '[{"name":"a","note":"q\\"\\\\u00e9,]"}]',
    ];
    const alphabet = '[]{}",:\\/@.- \t\nabnmeu01Nſ\u00e9\ud83d';

    function check(value: string): void {
      let parsed: ParsedNetworks;
      try {
        parsed = parseNetworksAnnotation(value);
      } catch (error) {
        if (error instanceof NetworkAnnotationError) return;
        throw new Error(`${JSON.stringify(value)} threw ${String(error)}`, { cause: error });
      }
      const written = withMacs(parsed);
      const reparsed = parseNetworksAnnotation(written);
      expect(reparsed.networks.map((network) => [network.name, network.mac])).toEqual(
        parsed.networks.map((network) => [network.name, MAC1]),
      );
      if (parsed.format === 'json') {
        expect(JSON.parse(serializeNetworks(parsed, new Map()))).toEqual(JSON.parse(value));
        parsed.networks.forEach((network) => expect(JSON.parse(network.source!)).toEqual(network.raw));
      }
    }

    it('throws nothing but NetworkAnnotationError for random strings, and round-trips what it accepts', () => {
      const next = random(1);
      for (let run = 0; run < 3_000; run++) {
        const length = Math.floor(next() * 40);
        let value = '';
        for (let i = 0; i < length; i++) value += alphabet[Math.floor(next() * alphabet.length)];
        check(value);
      }
    });

    it('throws nothing but NetworkAnnotationError for mutations of valid annotations', () => {
      const next = random(2);
      let accepted = 0;
      for (let run = 0; run < 4_000; run++) {
        const chars = [...seeds[run % seeds.length]];
        for (let edits = 1 + Math.floor(next() * 3); edits > 0; edits--) {
          const at = Math.floor(next() * (chars.length + 1));
          const char = alphabet[Math.floor(next() * alphabet.length)];
          const kind = Math.floor(next() * 3);
          if (kind === 0) chars.splice(at, 1);
          else if (kind === 1) chars.splice(at, 0, char);
          else chars[at] = char;
        }
        const value = chars.join('');
        check(value);
        try {
          parseNetworksAnnotation(value);
          accepted++;
        } catch {
          // Counted only to show the mutations reach the accepting paths too.
        }
      }
      expect(accepted).toBeGreaterThan(200);
    });

    it.each([
      ['deep nesting', '['.repeat(500_000)],
      ['deep nesting, closed', `${'['.repeat(300_000)}${']'.repeat(300_000)}`],
      ['many backslashes', `["${'\\'.repeat(100_001)}`],
      ['many commas', ','.repeat(2_000)],
      ['a huge entry', 'n'.repeat(2_000_000)],
      ['a huge namespace', `${'n'.repeat(2_000_000)}/net`],
      ['lone surrogates', '[{"name":"\ud800","x":"\\udc00"}]'],
    ])('handles %s', (_, value) => {
      check(value);
    });

    it('rejects a value that is not a string with NetworkAnnotationError', () => {
      expect(() => parseNetworksAnnotation(42 as unknown as string)).toThrow(
        new NetworkAnnotationError('annotation value must be a string, got number'),
      );
    });
  });

  describe('serializeNetworks', () => {
    it('refuses a MAC for a network the annotation does not list', () => {
      const parsed = parseNetworksAnnotation('[{"name":"a"}]');
      expect(() => serializeNetworks(parsed, new Map([[1, MAC1]]))).toThrow(RangeError);
      expect(() => serializeNetworks(parsed, new Map([[-1, MAC1]]))).toThrow(RangeError);
    });

    it('escapes what it writes', () => {
      const parsed = parseNetworksAnnotation('net1');
      expect(JSON.parse(serializeNetworks(parsed, new Map([[0, 'a"b']])))).toEqual([
        { name: 'net1', mac: 'a"b' },
      ]);
    });
  });
});
