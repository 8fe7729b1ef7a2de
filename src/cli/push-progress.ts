// `mlserve push`'s progress on stderr: without a TTY (CI logs), one line per
// layer as it completes, and one per retry; on a TTY, a compact block of one
// line per layer, redrawn in place at most ten times a second.
import {formatBytes} from '../image/render.js'
import type {PushProgress} from '../registry/progress.js'
import {color} from './ui.js'

interface Row {
  id: string
  phase: string
  current: number | null
  total: number | null
  detail: string | null
}

const DONE = new Set(['pushed', 'present'])

export class PushProgressView {
  private readonly rows = new Map<string, Row>()
  private drawn = 0
  private lastDraw = 0

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
  ) {}

  update(event: PushProgress): void {
    if (event.type === 'retry') {
      this.flush()
      this.line(color.yellow(`attempt ${event.attempt} of ${event.attempts} failed (${event.reason}); retrying in ${formatSeconds(event.delayMs)}`))
      // The next attempt redraws every layer below the message.
      this.drawn = 0
      return
    }
    if (event.type === 'digest') return
    const before = this.rows.get(event.id)
    const row: Row = {id: event.id, phase: event.phase, current: event.current, total: event.total, detail: event.detail}
    this.rows.set(event.id, row)
    if (!this.tty) {
      if (DONE.has(row.phase) && before?.phase !== row.phase) this.line(`  ${rowText(row)}`)
      return
    }
    const now = Date.now()
    if (DONE.has(row.phase) || now - this.lastDraw >= 100) this.draw(now)
  }

  /** Draws the final state (TTY). */
  flush(): void {
    if (this.tty && this.rows.size > 0) this.draw(Date.now())
  }

  private draw(now: number): void {
    this.lastDraw = now
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : ''
    for (const row of this.rows.values()) out += `\x1b[2K  ${rowText(row)}\n`
    this.drawn = this.rows.size
    this.write(out)
  }

  private line(text: string): void {
    this.write(`${text}\n`)
  }
}

function rowText(row: Row): string {
  const phase =
    row.phase === 'pushed' ? color.green('pushed') : row.phase === 'present' ? color.dim(row.detail ?? 'already present') : row.phase === 'retrying' ? color.yellow(row.detail ?? 'retrying') : row.phase
  const progress = row.phase === 'pushing' && row.total ? ` ${bar(row.current ?? 0, row.total)} ${formatBytes(row.current ?? 0)}/${formatBytes(row.total)}` : ''
  return `${row.id}  ${phase}${progress}`
}

function bar(current: number, total: number): string {
  const width = 20
  const filled = Math.max(0, Math.min(width, Math.round((current / total) * width)))
  return `[${'='.repeat(filled)}${' '.repeat(width - filled)}]`
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`
}
