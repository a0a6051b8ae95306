// A progress bar on stderr while the benchmark runs: redrawn in place on a
// terminal, a plain line every few seconds otherwise (CI logs stay short).

const BAR = 24

export class Progress {
  private lastDraw = 0
  private drawn = false
  private readonly tty: boolean

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = out.isTTY === true
  }

  update(label: string, done: number, total: number, detail = ''): void {
    const now = Date.now()
    if (now - this.lastDraw < (this.tty ? 100 : 5_000)) return
    this.lastDraw = now
    const f = total > 0 ? Math.min(1, done / total) : 0
    const filled = Math.round(f * BAR)
    const text = `${label.padEnd(28)} [${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${(f * 100).toFixed(0).padStart(3)}%  ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')}  ${detail}`
    if (this.tty) {
      this.out.write(`\r\x1b[2K${text}`)
      this.drawn = true
    } else {
      this.out.write(text + '\n')
    }
  }

  /** A finished step: replaces the bar with a permanent line. */
  line(text: string): void {
    if (this.tty && this.drawn) this.out.write('\r\x1b[2K')
    this.drawn = false
    this.lastDraw = 0
    this.out.write(text + '\n')
  }
}
