// Jest on Node 20 cannot require() the ESM-only Nest 12 and client-node packages itself, so @swc/jest
// transforms them to CommonJS (see ../shared/LIBRARIES.md §2.9). decoratorMetadata is needed for Nest DI.
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
