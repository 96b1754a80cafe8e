import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  DocumentBuilder,
  SwaggerModule,
} from '@nestjs/swagger';
import { writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { ALLOCATION_KINDS, DEFAULT_PAGE, MAX_PAGE } from '../src/modules/admin/admin.dto';
import { AdminController } from '../src/modules/admin/admin.controller';
import { AdminService } from '../src/modules/admin/admin.service';
import { AccessReviewService } from '../src/modules/access/access-review.service';
import { KubeAuthGuard } from '../src/modules/access/kube-auth.guard';
import { OpenApiController, SecureMetricsController } from '../src/modules/metrics/secure-metrics.module';

/** Where the document is written: a module of src, so the build ships it and the manager serves it. */
export const OPENAPI_MODULE = 'src/modules/admin/openapi-document.ts';

const MAC_PATTERN =
  '^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}$';
const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';

const error = {
  type: 'object',
  required: ['statusCode', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    message: { type: 'string' },
    error: { type: 'string' },
  },
};
const allocation = {
  type: 'object',
  required: ['mac', 'kind', 'namespace', 'name', 'interface', 'state', 'since'],
  additionalProperties: false,
  properties: {
    mac: { type: 'string', example: '02:00:00:00:00:01' },
    kind: { type: 'string', enum: [...ALLOCATION_KINDS] },
    namespace: { type: 'string' },
    name: {
      type: 'string',
      description: '`~<admission uid>` while a generateName object is not seen persisted',
    },
    interface: { type: 'string', description: 'the VM interface, or the Pod network key' },
    state: { type: 'string', enum: ['pending', 'committed'] },
    since: { type: 'string', format: 'date-time', nullable: true },
  },
};
const count = { type: 'integer', minimum: 0 };
const schemas: Record<string, object> = {
  pool: {
    type: 'object',
    additionalProperties: false,
    required: [
      'rangeStart',
      'rangeEnd',
      'size',
      'used',
      'pending',
      'free',
      'utilisation',
      'shared',
      'outOfRange',
      'byKind',
    ],
    properties: {
      rangeStart: { type: 'string' },
      rangeEnd: { type: 'string' },
      size: count,
      used: count,
      pending: count,
      free: count,
      utilisation: { type: 'number', minimum: 0, maximum: 1 },
      shared: count,
      outOfRange: count,
      byKind: {
        type: 'object',
        additionalProperties: false,
        required: [...ALLOCATION_KINDS],
        properties: Object.fromEntries(ALLOCATION_KINDS.map((kind) => [kind, count])),
      },
    },
  },
  mac: {
    type: 'object',
    additionalProperties: false,
    required: ['mac', 'inRange', 'owners'],
    properties: {
      mac: { type: 'string' },
      inRange: { type: 'boolean' },
      owners: { type: 'array', items: allocation },
    },
  },
  allocations: {
    type: 'object',
    additionalProperties: false,
    required: ['items'],
    properties: { items: { type: 'array', items: allocation }, continue: { type: 'string' } },
  },
  collisions: {
    type: 'object',
    additionalProperties: false,
    required: ['items'],
    properties: {
      items: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['mac', 'objects'],
          properties: { mac: { type: 'string' }, objects: { type: 'array', items: { type: 'string' } } },
        },
      },
    },
  },
};

/** Applies method decorators to `controller.prototype[method]`, as writing them above it would. */
function decorate(controller: { prototype: object }, method: string, decorators: MethodDecorator[]): void {
  const descriptor = Object.getOwnPropertyDescriptor(controller.prototype, method)!;
  for (const decorator of decorators) decorator(controller.prototype, method, descriptor);
}

const refusals = (extra: MethodDecorator[] = []): MethodDecorator[] => [
  ApiBearerAuth(),
  ApiResponse({
    status: 401,
    description: 'no bearer token, or one the API server did not accept',
    schema: error,
  }),
  ApiResponse({
    status: 403,
    description: 'the token’s user may not do this (SubjectAccessReview)',
    schema: error,
  }),
  ApiResponse({ status: 500, description: 'the API server could not review the request', schema: error }),
  ...extra,
];
const leaderAnswer = ApiResponse({
  status: 503,
  description: 'no leader answers now (a follower relays to the leader); retry',
  schema: error,
});
const badInput = ApiResponse({
  status: 400,
  description: 'a parameter, named with its value',
  schema: error,
});

/** The OpenAPI 3 document of the guarded server's routes (the admin API and /metrics), from @nestjs/swagger. */
export async function openApiDocument(): Promise<object> {
  decorate(AdminController, 'pool', [
    ApiOperation({ summary: 'Pool statistics (get pool.kubemacpool.io)' }),
    ApiOkResponse({ schema: schemas.pool }),
    leaderAnswer,
    ...refusals(),
  ]);
  decorate(AdminController, 'mac', [
    ApiOperation({ summary: 'The owners of a MAC (get macs.kubemacpool.io)' }),
    ApiParam({ name: 'mac', schema: { type: 'string', pattern: MAC_PATTERN }, example: '02:00:00:00:00:01' }),
    ApiOkResponse({ schema: schemas.mac }),
    ApiResponse({ status: 404, description: 'no object holds the MAC', schema: error }),
    badInput,
    leaderAnswer,
    ...refusals(),
  ]);
  decorate(AdminController, 'allocations', [
    ApiOperation({ summary: 'A page of allocations (list allocations.kubemacpool.io)' }),
    ApiQuery({ name: 'namespace', required: false, schema: { type: 'string', pattern: DNS_LABEL_PATTERN } }),
    ApiQuery({ name: 'kind', required: false, schema: { type: 'string', enum: [...ALLOCATION_KINDS] } }),
    ApiQuery({
      name: 'limit',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
    }),
    ApiQuery({
      name: 'continue',
      required: false,
      description: 'the `continue` of the previous page',
      schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,2048}$' },
    }),
    ApiOkResponse({ schema: schemas.allocations }),
    badInput,
    leaderAnswer,
    ...refusals(),
  ]);
  decorate(AdminController, 'collisions', [
    ApiOperation({ summary: 'MACs shared by running objects (list collisions.kubemacpool.io)' }),
    ApiOkResponse({ schema: schemas.collisions }),
    leaderAnswer,
    ...refusals(),
  ]);
  decorate(SecureMetricsController, 'metrics', [
    ApiOperation({ summary: 'Prometheus metrics (get /metrics)' }),
    // Only the metrics are text; a refusal is JSON, as on every route (schemathesis found the document said otherwise).
    ApiOkResponse({
      description: 'the Prometheus text format',
      content: { 'text/plain': { schema: { type: 'string' } } },
    }),
    ...refusals(),
  ]);
  decorate(OpenApiController, 'document', [
    ApiOperation({ summary: 'This document (get /api/openapi.json: any authenticated user, as discovery)' }),
    ApiOkResponse({ schema: { type: 'object' } }),
    ...refusals(),
  ]);
  const app = await NestFactory.create<NestFastifyApplication>(
    {
      module: class OpenApiModule {},
      controllers: [SecureMetricsController, OpenApiController, AdminController],
      providers: [
        { provide: AccessReviewService, useValue: {} },
        { provide: AdminService, useValue: {} },
        KubeAuthGuard,
      ],
    } as never,
    new FastifyAdapter(),
    { logger: false },
  );
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Kubemacpool admin API')
      .setDescription(
        'The guarded HTTPS server of the manager (port 8443): every route needs a bearer token the API server ' +
          'authenticates (TokenReview) and authorises (SubjectAccessReview).',
      )
      .setVersion('v1')
      .addBearerAuth()
      .build(),
  );
  await app.close();
  return document;
}

/** The TypeScript module holding `document` (JSON as JSON.stringify writes it; .prettierignore names the file). */
export function renderOpenApiModule(document: object): string {
  return (
    "// Generated by `npm run docs:openapi` (scripts/openapi.ts) with @nestjs/swagger from the guarded server's " +
    'routes. Do not edit: a unit test fails when it and the routes disagree.\n' +
    `export const OPENAPI_DOCUMENT: object = ${JSON.stringify(document, null, 2)};\n`
  );
}

async function main(): Promise<void> {
  const target = resolve(process.cwd(), OPENAPI_MODULE);
  writeFileSync(target, renderOpenApiModule(await openApiDocument()));
  process.stdout.write(`wrote ${relative(process.cwd(), target)}\n`);
}

if (require.main === module) void main();
