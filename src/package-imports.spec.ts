import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

describe('package.json', () => {
  // A package that resolves only because another package depends on it breaks on that package's next release or
  // under a stricter package manager: the production image installs `dependencies` and nothing else.
  it('declares every package the production code imports as a dependency', () => {
    const builtins = new Set(builtinModules);
    const imported = new Set<string>();
    for (const file of sources(join(ROOT, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/(?:from|import)\s+'([^'.][^']*)'/g)) {
        const specifier = match[1];
        if (specifier.startsWith('node:') || builtins.has(specifier)) continue;
        imported.add(packageOf(specifier));
      }
    }
    const undeclared = [...imported].filter(
      (name) => manifest.dependencies[name] === undefined && !name.startsWith('@types/'),
    );
    expect(undeclared).toEqual([]);
    expect(imported.size).toBeGreaterThan(5);
  });
});
