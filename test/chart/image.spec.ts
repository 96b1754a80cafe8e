import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/binaries';
import { managerNodeFlags } from '../support/manager-process';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

describe('the image (Dockerfile)', () => {
  it('pins both bases by digest, Node.js 24 at run time', () => {
    const bases = [...dockerfile.matchAll(/^ARG (BUILDER|RUNTIME)=(\S+)$/gm)].map((match) => match[2]);
    expect(bases).toHaveLength(2);
    for (const base of bases) expect(base).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(bases[1]).toMatch(/^gcr\.io\/distroless\/nodejs24-/);
  });

  it('starts the manager with the Node.js flags of `npm start`, as ENTRYPOINT and as upstream’s /manager', () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]) as string[];
    expect(entrypoint).toEqual(['/nodejs/bin/node', ...managerNodeFlags(), '/app/dist/main.js']);
    // Linux passes everything after the interpreter as ONE argument: a second flag needs another form of /manager.
    expect(managerNodeFlags()).toHaveLength(1);
    const shebang = readFileSync(join(REPO_ROOT, 'image', 'manager'), 'utf8').split('\n')[0];
    expect(shebang).toBe(`#!/nodejs/bin/node ${managerNodeFlags().join(' ')}`);
  });

  it('runs as a non-root user and copies production dependencies only', () => {
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toContain('npm prune --omit=dev');
  });

  it('runs what the chart’s hooks call: /nodejs/bin/node and /app/dist/chart-hooks.js', () => {
    const helpers = readFileSync(join(REPO_ROOT, 'helm', 'kubemacpool', 'templates', '_helpers.tpl'), 'utf8');
    expect(helpers).toContain('{{- define "kubemacpool.node" -}}/nodejs/bin/node{{- end }}');
    expect(helpers).toContain('{{- define "kubemacpool.chartHooks" -}}/app/dist/chart-hooks.js{{- end }}');
    expect(dockerfile).toContain('COPY --from=build /src/dist ./dist');
  });
});
