/** A construct the kubeconfig reader does not implement; the caller falls back to client-node's full YAML parser. */
export class UnsupportedYamlError extends Error {}

interface Line {
  number: number;
  indent: number;
  text: string;
}

/**
 * Reads the YAML subset kubeconfig writers produce (kubectl, kind, minikube, cloud CLIs): block mappings, block
 * sequences (indented or at the key's column), plain, single- and double-quoted scalars, `{}`, `[]`, true/false/null
 * and comments. Anchors, tags, block scalars (`|`, `>`), multi-line plain scalars and non-empty flow collections
 * throw UnsupportedYamlError rather than being guessed at. Scalars other than booleans and null stay strings.
 */
export function parseKubeconfigYaml(text: string): unknown {
  const lines: Line[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    if (raw.includes('\t') && /^\s*\t/.test(raw)) unsupported(index + 1, 'tab indentation');
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (trimmed === '---' && lines.length === 0) return;
    if (trimmed === '---' || trimmed === '...') unsupported(index + 1, 'several documents');
    lines.push({ number: index + 1, indent: raw.length - raw.trimStart().length, text: trimmed });
  });
  if (lines.length === 0) return null;
  const reader = new BlockReader(lines);
  const value = reader.block(lines[0].indent);
  if (!reader.done()) unsupported(reader.peek()!.number, 'unexpected indentation');
  return value;
}

function unsupported(line: number, what: string): never {
  throw new UnsupportedYamlError(`line ${line}: ${what} is not supported by the kubeconfig reader`);
}

function isSequenceItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

class BlockReader {
  private index = 0;

  constructor(private readonly lines: Line[]) {}

  done(): boolean {
    return this.index >= this.lines.length;
  }

  peek(): Line | undefined {
    return this.lines[this.index];
  }

  /** The block starting at the current line, whose lines sit at `indent`. */
  block(indent: number): unknown {
    const line = this.peek()!;
    return isSequenceItem(line.text) ? this.sequence(indent) : this.mapping(indent);
  }

  private sequence(indent: number): unknown[] {
    const items: unknown[] = [];
    for (let line = this.peek(); line?.indent === indent && isSequenceItem(line.text); line = this.peek()) {
      const rest = line.text.slice(1).trimStart();
      if (rest === '') {
        this.index++;
        const next = this.peek();
        items.push(next !== undefined && next.indent > indent ? this.block(next.indent) : null);
        continue;
      }
      // `- key: value` opens a mapping whose column is where `key` starts: read the rest as a line of its own.
      const column = indent + (line.text.length - rest.length);
      this.lines[this.index] = { number: line.number, indent: column, text: rest };
      if (isSequenceItem(rest) || splitKey(rest, line.number) !== undefined) items.push(this.block(column));
      else {
        this.index++;
        items.push(scalar(rest, line.number));
      }
    }
    return items;
  }

  private mapping(indent: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    for (let line = this.peek(); line?.indent === indent; line = this.peek()) {
      if (isSequenceItem(line.text)) unsupported(line.number, 'a sequence item inside a mapping');
      const pair = splitKey(line.text, line.number);
      if (pair === undefined) unsupported(line.number, 'a multi-line or keyless scalar');
      this.index++;
      const [key, value] = pair;
      if (value !== '') {
        map[key] = scalar(value, line.number);
        continue;
      }
      const next = this.peek();
      if (
        next !== undefined &&
        (next.indent > indent || (next.indent === indent && isSequenceItem(next.text)))
      )
        map[key] = this.block(next.indent);
      else map[key] = null;
    }
    return map;
  }
}

/** `key: value` → [key, value] (value '' when the line ends after the colon); undefined when there is no key. */
function splitKey(text: string, line: number): [string, string] | undefined {
  let key: string;
  let rest: string;
  if (text.startsWith('"') || text.startsWith("'")) {
    const end = quotedEnd(text, line);
    key = scalarString(text.slice(0, end + 1), line);
    rest = text.slice(end + 1);
    if (!rest.startsWith(':')) return undefined;
    rest = rest.slice(1);
  } else {
    const colon = text.search(/:(\s|$)/);
    if (colon < 0) return undefined;
    key = text.slice(0, colon);
    rest = text.slice(colon + 1);
    if (key.startsWith('? ') || key.startsWith('{') || key.startsWith('['))
      unsupported(line, 'a complex key');
  }
  if (rest !== '' && !/^\s/.test(rest)) return undefined;
  return [key, stripComment(rest.trim())];
}

/** Index of the closing quote of the quoted scalar `text` starts with. */
function quotedEnd(text: string, line: number): number {
  const quote = text[0];
  for (let i = 1; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') i++;
    else if (text[i] === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return unsupported(line, 'an unterminated quoted scalar');
}

/** A plain scalar's trailing ` # comment` removed; quoted scalars are left alone. */
function stripComment(value: string): string {
  if (value.startsWith('"') || value.startsWith("'")) return value;
  const hash = value.search(/\s#/);
  return hash < 0 ? value : value.slice(0, hash).trimEnd();
}

function scalarString(value: string, line: number): string {
  if (value.startsWith("'")) return value.slice(1, -1).replaceAll("''", "'");
  try {
    return JSON.parse(value) as string;
  } catch {
    return unsupported(line, 'a double-quoted escape');
  }
}

function scalar(value: string, line: number): unknown {
  if (value.startsWith('"') || value.startsWith("'")) {
    const end = quotedEnd(value, line);
    const after = value.slice(end + 1).trim();
    if (after !== '' && !after.startsWith('#')) unsupported(line, 'text after a quoted scalar');
    return scalarString(value.slice(0, end + 1), line);
  }
  if (value === '{}') return {};
  if (value === '[]') return [];
  if (/^[&*!|>{[@`%]/.test(value)) unsupported(line, `the value ${JSON.stringify(value)}`);
  if (value === 'null' || value === '~' || value === '') return null;
  if (value === 'true' || value === 'True' || value === 'TRUE') return true;
  if (value === 'false' || value === 'False' || value === 'FALSE') return false;
  return value;
}
