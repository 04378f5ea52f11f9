/**
 * A small YAML writer for the manifests `campaign plan` writes (Kubernetes, GitHub Actions): plain
 * block style for maps and lists, every string double-quoted as JSON does it (valid YAML, and no
 * "on"/"yes"/"08" surprises), multi-line strings as literal blocks so scripts stay readable.
 * The tests parse the output back with a YAML parser and compare it with the object.
 */

type Yaml = string | number | boolean | null | Yaml[] | { [k: string]: Yaml | undefined };

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
const YAML_WORDS = /^(y|n|yes|no|true|false|on|off|null)$/i;

function key(k: string): string {
  return PLAIN_KEY.test(k) && !YAML_WORDS.test(k) ? k : JSON.stringify(k);
}

function scalar(v: string | number | boolean | null): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

/** A literal block for a multi-line string, when its lines allow one (no leading space on line one). */
function literal(s: string, indent: string): string[] | null {
  if (!s.includes('\n') || /^[ \t]/.test(s) || /[^\S\n]\n|[\t\r]/.test(s)) return null;
  const body = s.endsWith('\n') ? s.slice(0, -1) : s;
  return [s.endsWith('\n') ? '|' : '|-', ...body.split('\n').map((l) => (l === '' ? '' : indent + l))];
}

function isMap(v: Yaml): v is { [k: string]: Yaml | undefined } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function emit(v: Yaml, indent: string, out: string[], head: string): void {
  if (isMap(v)) {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined) as [string, Yaml][];
    if (entries.length === 0) {
      out.push(`${head}{}`);
      return;
    }
    entries.forEach(([k, x], i) => {
      // The first entry of a map inside a list item shares the "- " line.
      const prefix = i === 0 && head.endsWith('- ') ? head : indent;
      field(prefix + key(k), x, indent, out);
    });
    return;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) {
      out.push(`${head}[]`);
      return;
    }
    for (const x of v) {
      if (isMap(x) && Object.keys(x).length > 0) emit(x, indent + '  ', out, `${indent}- `);
      else if (Array.isArray(x) && x.length > 0) {
        out.push(`${indent}-`);
        emit(x, indent + '  ', out, indent + '  ');
      } else if (typeof x === 'string' && literal(x, indent + '  ') !== null) {
        const lit = literal(x, indent + '  ')!;
        out.push(`${indent}- ${lit[0]}`, ...lit.slice(1));
      } else out.push(`${indent}- ${inline(x)}`);
    }
    return;
  }
  out.push(head + scalar(v));
}

function inline(v: Yaml): string {
  if (Array.isArray(v)) return '[]';
  if (isMap(v)) return '{}';
  return scalar(v);
}

function field(left: string, x: Yaml, indent: string, out: string[]): void {
  if (typeof x === 'string') {
    const lit = literal(x, indent + '  ');
    if (lit !== null) {
      out.push(`${left}: ${lit[0]}`);
      out.push(...lit.slice(1));
      return;
    }
  }
  if ((isMap(x) && Object.keys(x).length > 0) || (Array.isArray(x) && x.length > 0)) {
    out.push(`${left}:`);
    emit(x, indent + '  ', out, indent + '  ');
    return;
  }
  out.push(`${left}: ${inline(x)}`);
}

/** One YAML document for `v` (a map), ending in a newline. */
export function toYaml(v: { [k: string]: Yaml | undefined }): string {
  const out: string[] = [];
  emit(v, '', out, '');
  return out.join('\n') + '\n';
}

export type { Yaml };
