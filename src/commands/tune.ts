import {Args, Flags} from '@oclif/core'
import {writeFile} from 'node:fs/promises'
import {extname} from 'node:path'
import {BaseCommand} from '../cli/base-command.js'
import * as flag from '../cli/flags.js'
import {onInterrupt} from '../cli/interrupt.js'
import {color, isInteractive} from '../cli/ui.js'
import type {TuneProgress} from '../tune/tune.js'
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
    'slo-p99': flag.milliseconds({description: 'The latency objective: the p99 in milliseconds that a replica must hold.', required: true}),
    'peak-rps': flag.rate({description: 'The peak load the deployment must serve, in requests per second.', required: true}),
    utilization: flag.share({description: 'The share of its capacity each replica should run at at peak (headroom: 0.7 leaves 30%).', default: '0.7'}),
    search: Flags.option({description: 'How to search: quick prunes directions that stop paying, exhaustive measures every candidate.', options: ['quick', 'exhaustive'] as const, default: 'quick'})(),
    processes: flag.intList({description: 'The processes_per_replica values to try, comma-separated; by default 1–3 per CPU of compute.cpu.'}),
    threads: flag.intList({description: 'The threads_per_process values to try, comma-separated; by default 1,2,4,8,16,32.'}),
    data: Flags.string({description: "The request body: inline JSON, @FILE, an ndjson file or a directory of payloads used round robin; by default the project's payloads/ directory."}),
    window: flag.duration({description: 'The length of one measurement window; windows also hold at least 50 requests.', default: '1s'}),
    warmup: flag.duration({description: 'How long load is sent to each new replica before measuring, not counted.', default: '2s'}),
    'max-concurrency': flag.positiveInt({description: 'The highest closed-loop concurrency a sweep tries.', default: '256'}),
    'readiness-timeout': flag.duration({description: 'How long a replica may take to load its model and report ready.', default: '120s'}),
    out: flag.file(['.html', '.htm', '.json'])({description: 'Also write the report to this file: .html (a self-contained page with the throughput-vs-p99 chart) or .json.'}),
    write: Flags.boolean({description: 'Write the recommendation into mlserve.yaml in place (atomically, keeping comments, order and other fields).', default: false}),
  }

  async run(): Promise<TuneResult> {
    const {args, flags} = await this.parse(Tune)
    const [{loadProject}, {tune}] = await Promise.all([import('../config/index.js'), import('../tune/tune.js')])
    const project = await loadProject(args.dir)

    // Ctrl-C: the first stops after the current measurement and reports what was measured; the second quits at
    // once (the exit handler of the reaper kills the replica under test).
    const controller = new AbortController()
    const interrupts = onInterrupt({
      gracefulNote: () => color.yellow('Stopping after the current measurement: replicas are being shut down; Ctrl-C again to quit at once.'),
      graceful: () => controller.abort(),
      immediate: () => process.exit(130),
    })

    const live = isInteractive() && !this.jsonEnabled()
    let result: TuneResult
    try {
      result = await tune({
        project,
        api: flags.api,
        sloP99Ms: flags['slo-p99'],
        peakRps: flags['peak-rps'],
        utilization: flags.utilization,
        search: flags.search,
        processes: flags.processes,
        threads: flags.threads,
        data: flags.data,
        windowMs: flags.window,
        warmupMs: flags.warmup,
        maxConcurrency: flags['max-concurrency'],
        readinessTimeoutMs: flags['readiness-timeout'],
        signal: controller.signal,
        onProgress: (progress) => this.progress(progress, live),
        log: (lines) => this.say(color.dim(lines)),
      })
    } finally {
      interrupts.dispose()
    }

    if (flags.write && result.recommendation && !result.aborted) {
      const {writeRecommendation} = await import('../tune/write.js')
      await writeRecommendation(project, result.api, result.recommendation)
      result.wrote = result.file
    } else if (flags.write) {
      this.note(result.aborted ? 'Not writing mlserve.yaml: the run was stopped early.' : 'Not writing mlserve.yaml: there is no recommendation.')
    }

    const {renderTuneText} = await import('../report/tune-text.js')
    this.say('')
    this.say(renderTuneText(result))
    if (result.wrote) this.say(color.green(`Wrote the recommendation into ${result.wrote}.`))
    if (flags.out) {
      const html = extname(flags.out).toLowerCase() !== '.json'
      await writeFile(flags.out, html ? (await import('../report/tune-html.js')).renderTuneHtml(result) : JSON.stringify(result, null, 2))
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

function formatDuration(seconds: number): string {
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`
}
