import {Args, Flags} from '@oclif/core'
import {writeFile} from 'node:fs/promises'
import {extname} from 'node:path'
import {BaseCommand} from '../cli/base-command.js'
import * as flag from '../cli/flags.js'
import {onInterrupt} from '../cli/interrupt.js'
import {color, isInteractive} from '../cli/ui.js'
import type {TuneProgress} from '../tune/tune.js'
import {candidateLabel, type Prices, type TuneResult} from '../tune/types.js'

export default class Tune extends BaseCommand {
  static override summary = 'Measure one replica and recommend processes, threads, max_replica_concurrency and min_replicas.'

  static override description = `For each candidate (processes_per_replica × threads_per_process, and BLAS threads where the predictor uses numpy, torch or the like), starts one replica pinned to compute.cpu CPUs of its own and finds its capacity at steady state: the highest open-loop (Poisson) rate at which p99 ≤ --slo-p99 and under 0.1% of requests are shed or fail, over windows long enough for the queue to settle (a closed-loop sweep only bounds the search; the rate is bisected between one that passes and one that fails, then repeated to measure the noise). It measures memory per process, picks the candidate that serves --peak-rps at the least cost (replicas × CPU and memory; ties within the measured noise go to fewer processes, then fewer threads), sizes max_replica_concurrency, target_replica_concurrency and min_replicas from queueing, and then verifies the pick: it starts it as \`mlserve run\` would and drives it at the recommended per-replica rate. Ctrl-C stops cleanly and reports what was measured.`

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
    window: flag.duration({description: 'The shortest counted measurement window; each also holds at least --window-requests requests, and at most 60 s.', default: '5s'}),
    'window-requests': flag.positiveInt({description: 'The fewest requests a counted window holds: p99 then rests on the slowest hundredth of them.', default: '1000'}),
    warmup: flag.duration({description: 'How long load is sent to each new replica before measuring, not counted.', default: '2s'}),
    'max-concurrency': flag.positiveInt({description: 'The highest closed-loop concurrency the sweep that bounds the search tries.', default: '256'}),
    blas: Flags.boolean({description: 'Sweep BLAS/OpenMP threads per process where the predictor imports numpy, scipy, torch, sklearn, tensorflow or onnxruntime and its env does not set them.', default: true, allowNo: true}),
    batch: Flags.boolean({description: "Sweep server-side batching (max_batch_size ≈ throughput × batch_interval, Cortex's rule, at 10, 20 and 40 ms) even where the config does not turn it on; where it does, its pair is halved and doubled.", default: false}),
    pin: Flags.boolean({description: 'Pin the replica to compute.cpu CPUs of its own, with the gateway and the load generator on the others.', default: true, allowNo: true}),
    verify: Flags.boolean({description: 'Start the pick as `mlserve run` would and drive it open loop at the recommended per-replica rate; a pick that fails is stepped down and verified again.', default: true, allowNo: true}),
    'verify-duration': flag.duration({description: 'How long the verification drives the pick, after its settling period.', default: '60s'}),
    'price-per-replica-hour': flag.price({description: 'The price of one replica per hour; with it, the report gives the cost per 1,000 requests and per month at the peak.'}),
    'price-cpu-hour': flag.price({description: 'The price of one CPU per hour (used with --price-gib-hour instead of --price-per-replica-hour).', dependsOn: ['price-gib-hour'], exclusive: ['price-per-replica-hour']}),
    'price-gib-hour': flag.price({description: 'The price of one GiB of memory per hour (used with --price-cpu-hour).', dependsOn: ['price-cpu-hour'], exclusive: ['price-per-replica-hour']}),
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
        windowRequests: flags['window-requests'],
        sweepBlas: flags.blas,
        sweepBatch: flags.batch,
        pin: flags.pin,
        verify: flags.verify,
        verifyDurationMs: flags['verify-duration'],
        prices: pricesFrom(flags),
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
      result.writes = await writeRecommendation(project, result.api, result.recommendation)
      result.wrote = result.file
    } else if (flags.write) {
      this.note(result.aborted ? 'Not writing mlserve.yaml: the run was stopped early.' : 'Not writing mlserve.yaml: there is no recommendation.')
    }

    // Kept for later commands (a traffic rollout sizes replicas from it); a record that cannot be written costs only a warning.
    await (await import('../tune/record.js')).writeTuneRecord(project.dir, result).catch((error: Error) => this.note(`Could not record the result under .mlserve/tune: ${error.message}`))

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
    const head = `[${p.index}/≤${p.upTo}] ${candidateLabel(p.candidate)}`
    if (p.phase === 'done' && p.result) {
      const cap = p.result.capacity
      const what = cap?.meetsSlo
        ? `${Math.round(cap.capacity)} req/s at p99 ≤ ${Math.round(Math.max(...cap.atCapacity.map((w) => w.p99Ms)))} ms${cap.utilizationAtCapacity === null ? '' : `, CPUs ${Math.round(cap.utilizationAtCapacity * 100)}% busy`}`
        : p.result.status === 'failed'
          ? `failed: ${p.result.error?.split('\n')[0]}`
          : p.result.status
      this.say(`${head}: ${what} (${Math.round(p.result.durationS)} s)${eta}`)
      return
    }
    if (p.phase === 'verify' && p.verify) {
      const verdict = p.verify.passed === undefined ? `verifying at ${Math.round(p.verify.rate)} req/s per replica under mlserve run` : `verification at ${Math.round(p.verify.rate)} req/s: ${p.verify.passed ? color.green('PASS') : color.red('FAIL')}`
      this.say(`${candidateLabel(p.candidate)}: ${verdict}`)
      return
    }
    if (!live) return
    let detail = ''
    if (p.plateau) detail = ` c=${p.plateau.concurrency}: ${Math.round(p.plateau.throughput)} req/s (closed loop, an upper bound)`
    if (p.window) detail = ` ${Math.round(p.window.rate)} req/s offered: p99 ${p.window.p99Ms.toFixed(1)} ms, ${(p.window.failedShare * 100).toFixed(2)}% failed${p.window.passes ? '' : color.red(' ✗')}`
    this.say(color.dim(`${head} ${p.phase}${detail}`) + eta)
  }
}

function pricesFrom(flags: {'price-per-replica-hour'?: number; 'price-cpu-hour'?: number; 'price-gib-hour'?: number}): Prices | undefined {
  if (flags['price-per-replica-hour'] !== undefined) return {source: 'flags', perReplicaHour: flags['price-per-replica-hour'], perCpuHour: 0, perGiBHour: 0}
  if (flags['price-cpu-hour'] !== undefined && flags['price-gib-hour'] !== undefined) return {source: 'flags', perReplicaHour: null, perCpuHour: flags['price-cpu-hour'], perGiBHour: flags['price-gib-hour']}
  return undefined
}

function formatDuration(seconds: number): string {
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`
}
