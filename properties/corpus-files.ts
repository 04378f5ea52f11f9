/**
 * The files of a corpus folder: every file under `dir` (recursively) whose name matches, sorted
 * by path; an unreadable folder has none. Shared by `list corpus`, `replay DIR` and the crash and
 * fault case loaders.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The project's corpus/ folder (docs/corpus.md), next to dist/ in a checkout or an installed package. */
export function corpusDir(): string {
  return path.resolve(__dirname, '..', '..', 'corpus');
}

export function filesUnder(dir: string, match: RegExp): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (match.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}
