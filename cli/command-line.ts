/**
 * The command-line layer: every command is one declaration (a CommandSpec: its name, arguments,
 * flag table, help text and examples, and the function that runs it), and this module turns the
 * declarations into a commander program. commander gives each command a generated `--help`/`-h`
 * (every flag with its value name, default and the examples), suggests the closest command or flag
 * for a misspelt one, and handles combined short flags (`-RWq`) and `--flag=value`.
 *
 * The exit-code contract stays the harness's: any parse problem is one line on stderr and exit 2
 * (UsageError); help goes to stdout with exit 0.
 *
 * Adding a flag: one entry in the command's flag table. Adding a command: one CommandSpec, and
 * its entry in cli/main.ts's COMMAND_MODULES.
 */

import { Command, CommanderError, Option } from 'commander';
import { CliIO, UsageError } from './common';

/** One flag: the long name is its key in the table (`'num-ops'` is `--num-ops`). */
export interface FlagSpec {
  type: 'string' | 'boolean';
  /** One-letter alias (`N` is `-N`): fsx's letters keep fsx's meaning. */
  short?: string;
  /** May be given more than once; the value is then the list of every value given. */
  multiple?: boolean;
  /** The value's name in help (`N`, `DIR`, `SPEC`); string flags only. */
  value?: string;
  /** What it does, in one or two sentences. */
  help: string;
  /** What applies when the flag is not given, shown in help (the command applies it itself). */
  default?: string;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** Parsed flags by long name: strings, true for a given boolean, arrays for `multiple`. */
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  values: Values;
  positionals: string[];
}

export interface CommandSpec {
  name: string;
  /** The positional arguments as help shows them, e.g. `['LOG']` or `['PATH...']`; checked by run(). */
  args?: readonly string[];
  /** One line for the command list. */
  summary: string;
  /** More paragraphs for the command's own help (optional). */
  details?: string;
  flags: FlagTable;
  /** Command lines shown under "Examples" (without the leading `iomap-harness`). */
  examples: readonly string[];
  run(p: Parsed, io: CliIO): number | Promise<number>;
}

/** The string value of a flag (undefined when not given). */
export const str = (v: Values, k: string): string | undefined => v[k] as string | undefined;
/** Whether a boolean flag was given. */
export const flag = (v: Values, k: string): boolean => v[k] === true;

/** commander's spelling of a flag: `-N, --num-ops <N>`. */
function optionSyntax(long: string, f: FlagSpec): string {
  const names = `${f.short !== undefined ? `-${f.short}, ` : ''}--${long}`;
  return f.type === 'string' ? `${names} <${f.value ?? 'VALUE'}>` : names;
}

function optionFor(cmd: string, long: string, f: FlagSpec, table: FlagTable): Option {
  const help = f.default !== undefined ? `${f.help} (default: ${f.default})` : f.help;
  const o = new Option(optionSyntax(long, f), help);
  if (f.type === 'string') {
    o.argParser((v: string, prev: string | string[] | undefined) => {
      noFlagAsValue(cmd, long, v, table);
      return f.multiple === true ? [...((prev as string[] | undefined) ?? []), v] : v;
    });
  }
  return o;
}

/**
 * commander gives a flag that takes a value the next argument, whatever it is (so `-N -5` reaches
 * the number check, which says what is wrong with -5). When that next argument is another of the
 * command's own flags (`--size --dir X`), the value was forgotten: say so.
 */
function noFlagAsValue(cmd: string, long: string, v: string, table: FlagTable): void {
  const m = /^--([a-z][a-z0-9-]*)(=.*)?$/.exec(v) ?? /^-([A-Za-z])$/.exec(v);
  if (m === null) return;
  const known = v.startsWith('--') ? table[m[1]] !== undefined : Object.values(table).some((f) => f.short === m[1]);
  if (known || v === '-h' || v === '--help') throw new UsageError(`${cmd}: option --${long} needs a value (got the flag ${v})`);
}

/**
 * Read commander's parsed options back into Values keyed by long name. A `--no-X` flag is
 * commander's negation of X (X defaults to true): given means X === false.
 */
function valuesOf(cmd: Command, flags: FlagTable): Values {
  const opts = cmd.opts() as Record<string, unknown>;
  const byFlag = new Map(cmd.options.map((o) => [o.long, o.attributeName()]));
  const v: Values = {};
  for (const long of Object.keys(flags)) {
    const value = opts[byFlag.get(`--${long}`) as string];
    if (long.startsWith('no-') && flags[long].type === 'boolean') {
      if (value === false) v[long] = true;
    } else if (value !== undefined) {
      v[long] = value as string | boolean | string[];
    }
  }
  return v;
}

/** The "Examples" block of a command's help. */
function examplesText(spec: CommandSpec): string {
  if (spec.examples.length === 0) return '';
  return `\nExamples:\n${spec.examples.map((e) => `  iomap-harness ${e}`).join('\n')}\n`;
}

/**
 * commander's error as one line: `fsx: unknown option '--bogus' (did you mean --seed?)`. For an
 * unknown short flag whose other case exists (`-Q` for `-q`), say so (commander suggests long flags only).
 */
function oneLine(e: CommanderError, cmd: string | undefined, flags: FlagTable | undefined): string {
  const [first, ...rest] = e.message.replace(/^error: /, '').split('\n');
  let text = e.code === 'commander.unknownCommand' ? first.replace(/'([^']+)'/g, '"$1"') : first.replace(/'([^']+)'/g, '$1');
  const hint = rest.join(' ').trim().replace(/^\(Did you mean/, '(did you mean');
  if (hint !== '') text += ` ${hint}`;
  else if (e.code === 'commander.unknownOption' && flags !== undefined) {
    const m = /^unknown option -([A-Za-z])$/.exec(text);
    const other = m === null ? undefined : Object.entries(flags).find(([, f]) => f.short !== undefined && f.short.toLowerCase() === m[1].toLowerCase());
    if (other !== undefined) text += ` (did you mean -${other[1].short}, --${other[0]}?)`;
  }
  if (e.code === 'commander.optionMissingArgument') text = text.replace(/^option (.*?) argument missing$/, 'option $1 needs a value');
  const where = cmd === undefined ? '' : `${cmd}: `;
  return `${where}${text}${e.code === 'commander.unknownOption' ? `; see iomap-harness ${cmd ?? ''} --help`.replace('  ', ' ') : ''}`;
}

/** Result of building and running the program: an exit code, or an error for main() to report. */
export async function runProgram(specs: readonly CommandSpec[], argv: string[], io: CliIO): Promise<number> {
  let code: number | undefined;
  let failure: { error: CommanderError; cmd?: string; flags?: FlagTable } | undefined;
  const program = new Command('iomap-harness');
  const configure = (c: Command, spec?: CommandSpec): Command => c
    .helpOption('-h, --help', 'show this help')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (t) => io.stdout(t),
      writeErr: (t) => io.stderr(t),
      outputError: () => undefined, // reported by main() as one line
    })
    .configureHelp({ sortOptions: false, helpWidth: 100 })
    .exitOverride((e) => {
      failure = { error: e, cmd: spec?.name, flags: spec?.flags };
      throw e;
    });
  configure(program);
  program.addHelpCommand(false);
  for (const spec of specs) {
    const c = program.command(spec.name).description(spec.details !== undefined ? `${spec.summary}\n\n${spec.details}` : spec.summary);
    configure(c, spec);
    for (const a of spec.args ?? []) c.argument(`[${a}]`);
    c.allowExcessArguments(true);
    for (const [long, f] of Object.entries(spec.flags)) c.addOption(optionFor(spec.name, long, f, spec.flags));
    c.addHelpText('after', examplesText(spec));
    c.action(async (...actionArgs: unknown[]) => {
      const self = actionArgs[actionArgs.length - 1] as Command;
      const positionals = self.args;
      const variadic = (spec.args ?? []).some((a) => a.endsWith('...'));
      const max = variadic ? Infinity : (spec.args ?? []).length;
      if (positionals.length > max) throw new UsageError(`${spec.name}: unexpected argument ${JSON.stringify(positionals[max])}`);
      code = await spec.run({ values: valuesOf(self, spec.flags), positionals }, io);
    });
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError && failure !== undefined) {
      if (e.exitCode === 0) return 0; // --help
      const known = failure.cmd === undefined && e.code === 'commander.unknownCommand' ? `; the commands: ${specs.map((s) => s.name).join(', ')}` : '';
      throw new UsageError(oneLine(e, failure.cmd, failure.flags) + known);
    }
    throw e;
  }
  return code ?? 0;
}

/** The help of one command, as `COMMAND --help` prints it (tests and docs). */
export async function commandHelp(specs: readonly CommandSpec[], name: string): Promise<string> {
  let out = '';
  await runProgram(specs, [name, '--help'], { stdout: (t) => { out += t; }, stderr: () => undefined, isTTY: false });
  return out;
}
