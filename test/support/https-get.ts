import { request } from 'node:https';

/**
 * GET `path` over HTTPS on `host` (loopback) and `port`, with `token` as the bearer token when given; the status and
 * the body as text. The certificate is not checked: the tests that check it say so.
 */
export function httpsGet(
  port: number,
  path: string,
  token?: string,
  host = '127.0.0.1',
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path,
        rejectUnauthorized: false,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** POSTs an AdmissionReview to a manager's webhook server on loopback `port`; resolves with its `response`. */
export function postReview<T = { allowed: boolean }>(
  port: number,
  body: object,
  headers: Record<string, string> = {},
  path = '/mutate-pods',
): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json', ...headers },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve((JSON.parse(text) as { response: T }).response));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
