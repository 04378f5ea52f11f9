/**
 * `iomap-harness init-adapter file|fs [DIR]`: write a working adapter skeleton — adapter.js,
 * the same in TypeScript (adapter.ts + tsconfig.json), and test.js that runs the harness on it —
 * into DIR (default ./my-adapter). `file` is a whole file implementation (a FileAdapter: the
 * fsx level); `fs` is a filesystem's ops table under the reference iomap layer (an FsAdapter),
 * starting as refs with its ->iomap_begin routed through your code. When DIR is outside this
 * package, DIR/node_modules/iomap-harness is linked to it so `require('iomap-harness/...')` works
 * there with no install (package.json records the same as a file: dependency for `npm install`).
 */

import * as fs from 'fs';
import * as path from 'path';
import { CliIO, EXIT_PASS, UsageError } from './common';
import { CommandSpec, FlagTable, Parsed } from './command-line';
import { FILE_JS, FILE_TS, FS_JS, FS_TS, TEST_JS } from './init-templates';

const FLAGS = {
  force: { type: 'boolean', help: 'overwrite files the skeleton would write that already exist' },
} as const satisfies FlagTable;

/** The package's own folder (dist/cli/.. /..). */
function packageRoot(): string {
  return path.resolve(__dirname, '..', '..');
}

function tsconfig(root: string): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, outDir: 'dist', rootDir: '.',
      // The harness's typings name Node's types; they live with the harness.
      typeRoots: [path.join(root, 'node_modules', '@types')], types: ['node'], skipLibCheck: true,
    },
    files: ['adapter.ts'],
  }, null, 2) + '\n';
}

/** Link DIR/node_modules/iomap-harness to this package unless DIR already resolves it. */
function linkPackage(dir: string, root: string): string | null {
  const inside = !path.relative(root, dir).startsWith('..');
  if (inside) return null; // the package resolves itself (package.json "exports")
  const nm = path.join(dir, 'node_modules');
  const link = path.join(nm, 'iomap-harness');
  if (fs.existsSync(link)) return null;
  fs.mkdirSync(nm, { recursive: true });
  fs.symlinkSync(root, link, 'dir');
  return link;
}

export function initAdapterCommand(p: Parsed, io: CliIO): number {
  const [kind, dirArg, ...extra] = p.positionals;
  if (kind !== 'file' && kind !== 'fs') {
    throw new UsageError(`init-adapter: say which kind: file (a whole file implementation) or fs (an ops table under the reference iomap layer)${kind === undefined ? '' : `, not ${JSON.stringify(kind)}`}`);
  }
  if (extra.length > 0) throw new UsageError(`init-adapter: unexpected argument ${JSON.stringify(extra[0])}`);
  const dir = path.resolve(dirArg ?? 'my-adapter');
  const root = packageRoot();
  const files: Record<string, string> = {
    'adapter.js': kind === 'file' ? FILE_JS : FS_JS,
    'adapter.ts': kind === 'file' ? FILE_TS : FS_TS,
    'tsconfig.json': tsconfig(root),
    'test.js': TEST_JS,
    'package.json': JSON.stringify({
      name: path.basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-') || 'my-adapter', private: true,
      scripts: { test: 'node test.js', build: 'tsc -p .' },
      devDependencies: { 'iomap-harness': `file:${root}` },
    }, null, 2) + '\n',
  };
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new UsageError(`init-adapter: ${dirArg}: not a directory`);
  const clash = Object.keys(files).filter((f) => fs.existsSync(path.join(dir, f)));
  if (clash.length > 0 && p.values.force !== true) {
    throw new UsageError(`init-adapter: ${path.join(dir, clash[0])} exists (--force overwrites the skeleton's files)`);
  }
  try {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  } catch (e) {
    throw new UsageError(`init-adapter: cannot write to ${dir}: ${(e as { code?: string }).code ?? String(e)}`);
  }
  const link = linkPackage(dir, root);
  const rel = path.relative(process.cwd(), dir) || '.';
  const shown = rel.startsWith('..') || path.isAbsolute(rel) ? dir : `./${rel}`;
  io.stdout([
    `wrote a ${kind === 'file' ? 'file-level adapter (FileAdapter)' : 'filesystem ops table (FsAdapter) under the reference iomap layer'} in ${shown}:`,
    '  adapter.js      the adapter: replace the marked parts with calls into your code',
    '  adapter.ts      the same in TypeScript (tsc -p ' + shown + ' builds dist/adapter.js)',
    '  test.js         runs fsx and the property suites on it: node ' + `${shown}/test.js`,
    ...(link !== null ? [`  node_modules/iomap-harness -> ${root} (so require('iomap-harness/...') works there)`] : []),
    'next:',
    `  iomap-harness fsx --adapter ${shown}/adapter.js -N 20000`,
    '',
  ].join('\n'));
  return EXIT_PASS;
}

export const INIT_ADAPTER_COMMAND: CommandSpec = {
  name: 'init-adapter',
  args: ['file|fs', 'DIR'],
  summary: 'write a working adapter skeleton (JavaScript and TypeScript) with a test, to fill in with your code',
  details: 'file: a whole file implementation (read, write, truncate, ...: the fsx level). fs: a filesystem\'s ops table '
    + '(->iomap_begin and friends) run under the reference iomap layer with the contract monitor. DIR defaults to ./my-adapter. '
    + 'docs/adapters.md walks through both.',
  flags: FLAGS,
  examples: ['init-adapter file my-adapter', 'init-adapter fs my-fs', 'fsx --adapter ./my-adapter/adapter.js -N 20000'],
  run: initAdapterCommand,
};
