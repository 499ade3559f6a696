/**
 * The demo's progress display: one line per step, `[  12.3s] what it does … done (4.1s)`, the
 * first number counting from the start of the demo.
 */
import { errorMessage } from '../../common/errors.ts';

/** Prints steps as they run and sections of results. */
export class Progress {
  private readonly started = Date.now();

  constructor(private readonly write: (text: string) => void = (t) => process.stdout.write(t)) {}

  /** Seconds since the demo started. */
  elapsedSeconds(): number {
    return (Date.now() - this.started) / 1000;
  }

  /** Runs one step, printing its line; a failure ends the line with FAILED and rethrows. */
  async step<T>(title: string, work: () => Promise<T>, detail?: (value: T) => string): Promise<T> {
    const begin = Date.now();
    this.write(`[${this.elapsedSeconds().toFixed(1).padStart(6)}s] ${title} … `);
    try {
      const value = await work();
      const extra = detail === undefined ? '' : `: ${detail(value)}`;
      this.write(`done (${((Date.now() - begin) / 1000).toFixed(1)}s)${extra}\n`);
      return value;
    } catch (err) {
      this.write(`FAILED (${((Date.now() - begin) / 1000).toFixed(1)}s)\n`);
      throw err;
    }
  }

  /** A titled block of result lines. */
  section(title: string, lines: readonly string[]): void {
    this.write(`\n== ${title} ==\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  }

  /** A plain line. */
  line(text: string): void {
    this.write(`${text}\n`);
  }

  /** The message for a failed demo, with what to look at. */
  static failure(err: unknown): string {
    return `\nwaymesh demo failed after the step above: ${errorMessage(err)}`;
  }
}
