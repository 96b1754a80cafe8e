/**
 * The layering `npm run lint` enforces (docs/architecture.md explains it). Each rule names what it protects; a
 * violation fails lint.
 */
const FEATURES =
  '(admission|certificates|collisions|health|kubevirt|leader|lifecycle|metrics|namespaces|pods)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles hide which part depends on which; every module must have a clear direction.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'pool-is-pure',
      comment:
        'The pool speaks MACs, ranges and owners: no Kubernetes, no HTTP, no other feature module. It is unit-tested ' +
        'and benchmarked alone, and only its own rules decide a MAC.',
      severity: 'error',
      from: { path: '^src/modules/pool/' },
      to: {
        path: [
          '^src/modules/(?!pool/)',
          '@kubernetes/client-node',
          'fastify',
          '@nestjs/platform-fastify',
          'node-fetch',
          '^(http|https|http2|net|tls|dgram)$',
        ],
      },
    },
    {
      name: 'mutation-kit-is-shared',
      comment:
        'The shared mutation kit (AdmissionReview codec, JSON patch, MAC claims) serves pods and kubevirt; it may use ' +
        'the pool but never the modules that use it.',
      severity: 'error',
      from: { path: '^src/modules/mutation/' },
      to: { path: '^src/modules/(?!mutation/|pool/)' },
    },
    {
      name: 'pods-and-kubevirt-apart',
      comment:
        'Pod rules and VirtualMachine rules are independent; what both need lives in mutation, pool or kube.',
      severity: 'error',
      from: { path: '^src/modules/(pods|kubevirt)/' },
      to: { path: '^src/modules/(pods|kubevirt)/', pathNot: '^src/modules/$1/' },
    },
    {
      name: 'kube-is-infrastructure',
      comment:
        'kube holds Kubernetes I/O (client configuration, list/watch, repositories of cluster objects); features ' +
        'use it, it uses no feature (reducers and callbacks are passed in).',
      severity: 'error',
      from: { path: '^src/modules/kube/' },
      to: { path: `^src/modules/(?!kube/)` },
    },
    {
      name: 'namespaces-serve-both-sides',
      comment: 'The namespace scope is read by admission and the life cycle; it must import neither.',
      severity: 'error',
      from: { path: '^src/modules/namespaces/' },
      to: { path: `^src/modules/${FEATURES}/`, pathNot: '^src/modules/namespaces/' },
    },
    {
      name: 'admission-and-lifecycle-apart',
      comment:
        'The webhook surface and the allocation life cycle meet only in the pool and the namespace scope.',
      severity: 'error',
      from: { path: '^src/modules/(admission|lifecycle)/' },
      to: { path: '^src/modules/(admission|lifecycle)/', pathNot: '^src/modules/$1/' },
    },
    {
      name: 'collisions-only-observe',
      comment:
        'Collision detection reads running objects and reports; it allocates nothing. It uses kube, the namespace ' +
        'scope, the pool (MAC values, the rebuilt signal) and the pods read-side parser, never admission, mutation ' +
        'or the life cycle.',
      severity: 'error',
      from: { path: '^src/modules/collisions/' },
      to: { path: '^src/modules/(admission|certificates|health|kubevirt|lifecycle|metrics|mutation)/' },
    },
    {
      name: 'nothing-depends-on-collisions',
      comment:
        'Collision detection is a leaf feature: only the application module wires it in, and the admin API reads it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(app\\.module\\.ts$|modules/(collisions|admin)/)' },
      to: { path: '^src/modules/collisions/' },
    },
    {
      name: 'common-is-leaf',
      comment: 'src/common holds cross-cutting pieces every module may use; it imports no module.',
      severity: 'error',
      from: { path: '^src/common/' },
      to: { path: '^src/modules/' },
    },
    {
      name: 'production-code-stands-alone',
      comment: 'src is what the image ships: it never imports tests, benchmarks or scripts.',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^(test|bench|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|dist-dev)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
  },
};
