import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPENAPI_MODULE, openApiDocument, renderOpenApiModule } from '../../../scripts/openapi';

describe('the OpenAPI document the guarded server serves at /api/openapi.json', () => {
  let document: { paths: Record<string, Record<string, { security?: unknown[]; responses: object }>> };

  beforeAll(async () => {
    document = (await openApiDocument()) as typeof document;
  });

  it('is what `npm run docs:openapi` generates from the routes (re-run it after changing one)', () => {
    const committed = readFileSync(join(__dirname, '../../..', OPENAPI_MODULE), 'utf8');
    expect(committed).toBe(renderOpenApiModule(document));
  });

  it('describes every route of the guarded server, each behind a bearer token with its refusals', () => {
    expect(Object.keys(document.paths).sort()).toEqual([
      '/api/openapi.json',
      '/api/v1/allocations',
      '/api/v1/collisions',
      '/api/v1/macs/{mac}',
      '/api/v1/pool',
      '/metrics',
    ]);
    for (const [path, operations] of Object.entries(document.paths)) {
      expect([path, Object.keys(operations)]).toEqual([path, ['get']]);
      expect(operations.get.security).toEqual([{ bearer: [] }]);
      expect(Object.keys(operations.get.responses)).toEqual(
        expect.arrayContaining(['200', '401', '403', '500']),
      );
    }
  });
});
