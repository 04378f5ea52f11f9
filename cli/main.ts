/** Placeholder entry point; replaced by the CLI implementation. */
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('iomap-harness: CLI not implemented yet\n');
  return 2;
}
