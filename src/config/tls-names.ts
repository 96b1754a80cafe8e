/**
 * Upstream's TLS flags name cipher suites and key-exchange groups as Go's crypto/tls constants do; Node.js takes
 * OpenSSL's names. These tables translate the ones the manager accepts.
 */

/**
 * TLS 1.2 suites: forward-secret (ECDHE) with an AEAD cipher only. Go also knows CBC, RSA key exchange and 3DES
 * suites (and upstream ignores names it does not know); the manager refuses both, naming them, rather than serve
 * a weak suite or silently another list than the one asked for.
 */
const TLS12_SUITES: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  // Go's older names for the two ChaCha20 suites.
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
};

/**
 * TLS 1.3 suites. As in Go, naming them changes nothing: with TLS 1.3 the runtime chooses, and all three stay
 * enabled whatever the list says.
 */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** Go's CurveID names and OpenSSL's names for the same groups. */
const GROUPS: Readonly<Record<string, string>> = {
  X25519: 'X25519',
  CurveP256: 'P-256',
  CurveP384: 'P-384',
  CurveP521: 'P-521',
  X25519MLKEM768: 'X25519MLKEM768',
};

export const TLS_SUITE_NAMES: readonly string[] = [...Object.keys(TLS12_SUITES), ...TLS13_SUITES];
export const TLS_GROUP_NAMES: readonly string[] = Object.keys(GROUPS);

/**
 * The OpenSSL cipher string for Go suite names (each one of TLS_SUITE_NAMES), or undefined for none (Node.js's
 * defaults). The TLS 1.3 suites come first and always.
 */
export function opensslCiphers(names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  const tls12 = new Set(names.flatMap((name) => TLS12_SUITES[name] ?? []));
  return [...TLS13_SUITES, ...tls12].join(':');
}

/** The OpenSSL group list (Node.js's `ecdhCurve`) for Go group names (each one of TLS_GROUP_NAMES), in order. */
export function opensslGroups(names: readonly string[]): string | undefined {
  return names.length === 0 ? undefined : [...new Set(names.map(opensslGroup))].join(':');
}

/** The OpenSSL name of a Go group name (one of TLS_GROUP_NAMES). */
export function opensslGroup(name: string): string {
  return GROUPS[name];
}
