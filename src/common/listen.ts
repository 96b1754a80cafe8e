import { type NestFastifyApplication } from '@nestjs/platform-fastify';

/** Errors of a kernel without IPv6 (disabled or not built in): every address then means every IPv4 address. */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

/**
 * Listens on `host`, or on every address when it is empty. Every address is `::` with IPv4-mapped addresses (Node's
 * default for `::`), so single-stack IPv6, single-stack IPv4 and dual-stack clusters all reach the server; a kernel
 * without IPv6 gets `0.0.0.0`. Returns the address bound.
 */
export async function listen(app: NestFastifyApplication, port: number, host: string): Promise<string> {
  if (host !== '') {
    await app.listen(port, host);
    return host;
  }
  try {
    await app.listen(port, '::');
    return '::';
  } catch (error) {
    if (!NO_IPV6.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    await app.listen(port, '0.0.0.0');
    return '0.0.0.0';
  }
}
