/**
 * A dependency-free progress bar for long CLI operations (replay, bulk retry).
 *
 * Why on stderr: stdout stays machine-readable (`--json` output is the last line), and a TTY
 * gets an in-place bar while a pipe or CI log gets one line per 10% instead of thousands of
 * carriage returns.
 */

/** Where the bar draws; `process.stderr` in the CLI. */
export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
}

/** A progress bar with a label; `update` as work is done, `done` at the end. */
export class ProgressBar {
  private lastDecile = -1;
  private lastDraw = 0;

  constructor(
    private readonly stream: ProgressStream,
    private readonly label: string,
    private readonly width = 30,
  ) {}

  /** Draws `done` of `total` (total null → a counter). */
  update(done: number, total: number | null): void {
    if (total === null || total === 0) {
      if (this.stream.isTTY) this.stream.write(`\r${this.label} ${done}`);
      return;
    }
    const ratio = Math.min(1, done / total);
    if (this.stream.isTTY) {
      const now = Date.now();
      if (now - this.lastDraw < 50 && ratio < 1) return;
      this.lastDraw = now;
      const filled = Math.round(ratio * this.width);
      this.stream.write(
        `\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(this.width - filled)}] ${Math.floor(ratio * 100)}% ${done}/${total}`,
      );
      return;
    }
    const decile = Math.floor(ratio * 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      this.stream.write(`${this.label} ${decile * 10}% ${done}/${total}\n`);
    }
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
