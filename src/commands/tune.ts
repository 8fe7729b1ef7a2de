import {Args, Flags} from '@oclif/core'
import {writeFile} from 'node:fs/promises'
import {extname} from 'node:path'
import {BaseCommand} from '../cli/base-command.js'
import {durationFlag, positiveIntFlag} from '../cli/parse.js'
import {color, isInteractive, say} from '../cli/ui.js'
import {loadProject} from '../config/index.js'
import {mlserveError} from '../errors.js'
import {renderTuneHtml} from '../report/tune-html.js'
import {renderTuneText} from '../report/tune-text.js'
import {tune, type TuneProgress} from '../tune/tune.js'
import {writeRecommendation} from '../tune/write.js'
import type {TuneResult} from '../tune/types.js'

export default class Tune extends BaseCommand {
  static override summary = 'Measure one replica and recommend processes, threads, max_replica_concurrency and min_replicas.'

  static override description = `For each candidate (processes_per_replica × threads_per_process), starts one replica (min = max = 1), warms it up, and finds its capacity: the highest sustained throughput with p99 ≤ --slo-p99 and under 0.1% errors (a closed-loop concurrency sweep up to the knee, measured in windows until the last 3 agree within 10%, then confirmed by an open-loop run at that rate). It records memory per process, picks the candidate with the most capacity (ties within the 15% measurement noise go to fewer processes), and sizes the deployment for --peak-rps at --utilization. The quick search (default) prunes directions that stop paying; --search exhaustive measures every candidate. Ctrl-C stops cleanly and reports what was measured.`

  static override examples = [
    '<%= config.bin %> tune my-model --slo-p99 200 --peak-rps 500',
    '<%= config.bin %> tune . --slo-p99 500 --peak-rps 2000 --processes 1,2 --threads 1,4,16 --out report.html',
    '<%= config.bin %> tune . --slo-p99 100 --peak-rps 300 --search exhaustive --write',
  ]

  static override args = {
    dir: Args.string({description: 'The project directory or its mlserve.yaml.', default: '.'}),
  }

  static override flags = {
    api: Flags.string({description: 'The API to tune; optional when the project has one RealtimeAPI.'}),
    'slo-p99': Flags.string({description: 'The latency objective: p99 in milliseconds that a replica must hold.', required: true}),
    'peak-rps': Flags.string({description: 'The peak load the deployment must serve, in requests per second.', required: true}),
    utilization: Flags.string({description: 'The share of its capacity each replica should run at at peak (headroom: 0.7 leaves 30%).', default: '0.7'}),
    search: Flags.string({description: 'quick prunes directions that stop paying; exhaustive measures every candidate.', options: ['quick', 'exhaustive'], default: 'quick'}),
    processes: Flags.string({description: 'Comma-separated processes_per_replica values to try; by default 1–3 per CPU of compute.cpu.'}),
    threads: Flags.string({description: 'Comma-separated threads_per_process values to try; by default 1,2,4,8,16,32.'}),
    data: Flags.string({description: "The request body: inline JSON, @FILE, an ndjson file or a directory of payloads used round robin; by default the project's payloads/ directory."}),
    window: Flags.string({description: 'The length of one measurement window; windows also hold at least 50 requests.', default: '1s'}),
    warmup: Flags.string({description: 'Load sent to each new replica before measuring, not counted.', default: '2s'}),
    'max-concurrency': Flags.integer({description: 'The highest closed-loop concurrency a sweep tries.', default: 256}),
    'readiness-timeout': Flags.string({description: 'How long a replica may take to load its model.', default: '120s'}),
    out: Flags.string({description: 'Also write the report to this file: .html (a self-contained page with the throughput-vs-p99 chart) or .json.'}),
    write: Flags.boolean({description: 'Write the recommendation into mlserve.yaml in place (atomically, keeping comments, order and other fields).', default: false}),
  }

  async run(): Promise<TuneResult> {
    const {args, flags} = await this.parse(Tune)
    const sloP99Ms = positiveNumber('--slo-p99', flags['slo-p99'], 'a latency in milliseconds, such as 200')
    const peakRps = positiveNumber('--peak-rps', flags['peak-rps'], 'a rate in requests per second, such as 500')
    const utilization = positiveNumber('--utilization', flags.utilization, 'a fraction between 0 and 1, such as 0.7')
    if (utilization > 1) throw mlserveError('MLS_INVALID_FLAG', {flag: '--utilization', value: flags.utilization, expected: 'a fraction between 0 and 1, such as 0.7'})
    const processes = flags.processes ? intList('--processes', flags.processes) : undefined
    const threads = flags.threads ? intList('--threads', flags.threads) : undefined
    positiveIntFlag('--max-concurrency', flags['max-concurrency'])
    if (flags.out && !['.html', '.htm', '.json'].includes(extname(flags.out).toLowerCase())) {
      throw mlserveError('MLS_INVALID_FLAG', {flag: '--out', value: flags.out, expected: 'a file ending in .html or .json'})
    }

    const controller = new AbortController()
    let interrupts = 0
    const onSignal = (): void => {
      interrupts++
      if (interrupts === 1) {
        say(color.yellow('Stopping after the current measurement: replicas are being shut down; Ctrl-C again to quit at once.'))
        controller.abort()
      } else {
        process.exit(130)
      }
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)

    const live = isInteractive() && !this.jsonEnabled()
    let result: TuneResult
    try {
      result = await tune({
        project: await loadProject(args.dir),
        api: flags.api,
        sloP99Ms,
        peakRps,
        utilization,
        search: flags.search as 'quick' | 'exhaustive',
        processes,
        threads,
        data: flags.data,
        windowMs: durationFlag('--window', flags.window),
        warmupMs: durationFlag('--warmup', flags.warmup),
        maxConcurrency: flags['max-concurrency'],
        readinessTimeoutMs: durationFlag('--readiness-timeout', flags['readiness-timeout']),
        signal: controller.signal,
        onProgress: (progress) => this.progress(progress, live),
        log: (lines) => this.say(color.dim(lines)),
      })
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }

    if (flags.write && result.recommendation && !result.aborted) {
      await writeRecommendation(result.file, result.api, result.recommendation)
      result.wrote = result.file
    } else if (flags.write) {
      this.note(result.aborted ? 'Not writing mlserve.yaml: the run was stopped early.' : 'Not writing mlserve.yaml: there is no recommendation.')
    }

    this.say('')
    this.say(renderTuneText(result))
    if (result.wrote) this.say(color.green(`Wrote the recommendation into ${result.wrote}.`))
    if (flags.out) {
      await writeFile(flags.out, extname(flags.out).toLowerCase() === '.json' ? JSON.stringify(result, null, 2) : renderTuneHtml(result))
      this.say(`Report: ${flags.out}`)
    }
    if (result.aborted) process.exitCode = 130
    return result
  }

  private progress(p: TuneProgress, live: boolean): void {
    const eta = p.etaS === null ? '' : color.dim(` · about ${formatDuration(p.etaS)} left`)
    const head = `[${p.index}/≤${p.upTo}] ${p.candidate.processes} × ${p.candidate.threads}`
    if (p.phase === 'done' && p.result) {
      const cap = p.result.capacity
      const what = cap?.meetsSlo ? `${Math.round(cap.capacity)} req/s at p99 ${cap.p99Ms.toFixed(1)} ms` : p.result.status === 'failed' ? `failed: ${p.result.error?.split('\n')[0]}` : p.result.status
      this.say(`${head}: ${what} (${Math.round(p.result.durationS)} s)${eta}`)
      return
    }
    if (!live) return
    const point = p.point ? ` c=${p.point.concurrency || 'open'}: ${Math.round(p.point.throughput)} req/s, p99 ${p.point.p99Ms.toFixed(1)} ms${p.point.passes ? '' : color.red(' ✗')}` : ''
    this.say(color.dim(`${head} ${p.phase}${point}`) + eta)
  }
}

function positiveNumber(flag: string, value: string, expected: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw mlserveError('MLS_INVALID_FLAG', {flag, value, expected})
  return n
}

function intList(flag: string, value: string): number[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean)
  const numbers = items.map(Number)
  if (items.length === 0 || numbers.some((n) => !Number.isInteger(n) || n < 1)) {
    throw mlserveError('MLS_INVALID_FLAG', {flag, value, expected: 'comma-separated whole numbers of 1 or more, such as 1,2,4'})
  }
  return [...new Set(numbers)].sort((a, b) => a - b)
}

function formatDuration(seconds: number): string {
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`
}
