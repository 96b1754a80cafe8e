// Nest 12 and client-node (and some of their dependencies) ship only ES modules. Jest runs tests as CommonJS, and
// Node 20 cannot require() an ES module (Node 22.12+ and 24 can, but Jest's module loader does not use that), so
// @swc/jest transforms those packages to CommonJS along with our TypeScript, on every Node.js version alike.
// decoratorMetadata is needed for Nest DI.
require('./test/support/expected-node');

const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];
const esmPackages = [
  '@nestjs',
  '@kubernetes',
  'openid-client',
  'oauth4webapi',
  'jose',
  'cookie',
  'file-type',
  'strtok3',
  'token-types',
  'peek-readable',
  '@tokenizer',
  'uint8array-extras',
  'load-esm',
];
const common = {
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/test/support/expected-node.js'],
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.join('|')})/)`],
};

/** @type {import('jest').Config} */
module.exports = {
  // Every test's name in the output, so a CI log shows which integration tests ran against the apiserver.
  verbose: true,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  // Integration tests wait for controllers and watches; unit tests finish in milliseconds either way.
  testTimeout: 60_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    // The shipped alert rules through promtool (Debian package `prometheus`); no control plane.
    { ...common, displayName: 'monitoring', testMatch: ['<rootDir>/test/monitoring/**/*.spec.ts'] },
    // The Helm chart through the helm binary (lint, template, schema) and the manifests rendered from it; no control
    // plane.
    { ...common, displayName: 'chart', testMatch: ['<rootDir>/test/chart/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      // One real kube-apiserver + etcd for the whole run (test/support/control-plane.ts).
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
