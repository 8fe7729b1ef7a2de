import {Args, Flags} from '@oclif/core'
import {mkdir, writeFile} from 'node:fs/promises'
import {existsSync, statSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {BaseCommand} from '../cli/base-command.js'
import * as flag from '../cli/flags.js'
import {onInterrupt} from '../cli/interrupt.js'
import {color, isInteractive, say} from '../cli/ui.js'
import {displayPath, loadProject} from '../config/index.js'
import {mlserveError} from '../errors.js'
import {
  checkThresholds,
  loadRequestSource,
  probeTarget,
  runClosedLoop,
  runOpenLoop,
  startApiTarget,
  type ApiTarget,
  type LoadResult,
  type SecondStats,
  type ThresholdSpec,
} from '../loadtest/index.js'
import {ms, num, renderLoadReport, renderLoadTable, reportFormatOf} from '../report/index.js'

const DEFAULT_CONNECTIONS = 10

export default class Loadtest extends BaseCommand {
  static override summary = 'Load-test one HTTP endpoint, or one replica of an API, and report throughput and latency percentiles.'

  static override description = `TARGET is a URL, or a project directory (default "." with --api) whose API --api names: that API is started with exactly one replica behind the gateway (min = max = 1, as for any load test of a replica), tested, and stopped afterwards, also on Ctrl-C.

Two load models. Closed loop (--connections N, the default with 10): each connection sends its next request when the last is answered; it measures capacity, but hides stalls, because while the target pauses nothing is sent. Open loop (--rate R): requests go out at planned times (--arrival constant or poisson) whatever the target does; latency counts from each planned time, so stalls show, and sends that went out late are counted.

Latency is measured in microseconds (HdrHistogram) for every answer and timeout. The error rate counts every request that did not get a 2xx: 503 (shed) answers, other statuses, timeouts and connection errors; shed answers are also shown apart. Throughput counts 2xx answers per second. A warning says when the generator itself was the bottleneck (over 80% of a CPU core, or over 1% of sends late).

--max-p99, --max-error-rate and --min-throughput make the command exit 1 with a one-line reason when the result misses them, for CI.`

  static override examples = [
    '<%= config.bin %> loadtest http://127.0.0.1:8888/iris --data \'{"x": [1, 2]}\' --connections 16 --duration 30',
    '<%= config.bin %> loadtest --api iris --rate 200 --arrival poisson --duration 60 --warmup 5 --out report.html',
    '<%= config.bin %> loadtest my-model --api iris --data @payloads/ --duration 20 --max-p99 200 --max-error-rate 0.01',
    '<%= config.bin %> loadtest http://127.0.0.1:8888/iris --data @requests.ndjson --amount 5000 --json > result.json',
  ]

  static override args = {
    target: Args.string({description: 'A URL to test, or a project directory (or its mlserve.yaml) whose API to start and test; with --api it defaults to ".".'}),
  }

  static override flags = {
    api: Flags.string({description: 'Start this API of the project with one replica and test it through the gateway; it is stopped afterwards. Optional when TARGET is a project with one RealtimeAPI.'}),
    connections: flag.positiveInt({char: 'c', description: `Closed loop: how many connections send at once, each waiting for its answer before the next request (default ${DEFAULT_CONNECTIONS}, and with --api at most the API\'s max_replica_concurrency).`, exclusive: ['rate']}),
    rate: flag.rate({char: 'r', description: 'Open loop: planned requests per second, sent on schedule whatever the target does.', exclusive: ['connections']}),
    arrival: Flags.option({description: 'Open loop: how send times are spaced, evenly (constant) or as a Poisson process (poisson).', options: ['constant', 'poisson'] as const, dependsOn: ['rate']})(),
    'max-connections': flag.positiveInt({description: 'Open loop: the most requests in flight at once; further sends wait for a free connection, and their latency still counts from the planned time.', default: '512'}),
    duration: flag.duration({char: 'd', description: 'How long to measure, such as 30s or 2m (a bare number means seconds); the default is 10s.', exclusive: ['amount']}),
    amount: flag.positiveInt({char: 'n', description: 'Measure this many requests instead of running for a duration.', exclusive: ['duration']}),
    warmup: flag.durationOrZero({description: 'Load sent before measuring that is not counted, such as 5s (a bare number means seconds).', default: '0'}),
    data: Flags.string({description: 'The request body: inline JSON, @FILE for one body, @FILE.ndjson for one body per line, or @DIR for one body per file; several bodies are sent round robin. With --api it defaults to the project\'s payloads/ directory, else {}.'}),
    method: Flags.string({char: 'X', description: 'The HTTP method; by default POST when there is a body (always with --api), else GET.'}),
    header: Flags.string({char: 'H', description: 'An extra request header as "Name: value" (repeat the flag for several).', multiple: true}),
    timeout: flag.duration({description: 'A request with no answer this long after it was sent counts as a timeout (the closed loop rounds it up to at least 1s).', default: '10s'}),
    out: flag.file(['.json', '.csv', '.md', '.markdown', '.html', '.htm'])({char: 'o', description: 'Also write the result to this file, in the format its extension names: .json, .csv, .md or .html (repeat the flag for several).', multiple: true}),
    'max-p99': flag.milliseconds({description: 'Exit 1 when the p99 latency is above this many milliseconds.'}),
    'max-error-rate': flag.fraction({description: 'Exit 1 when the error rate (non-2xx answers, timeouts and connection errors over all requests) is above this fraction, such as 0.01 or 1%.'}),
    'min-throughput': flag.rate({description: 'Exit 1 when the throughput (2xx answers per second) is below this many requests per second.'}),
    'readiness-timeout': flag.duration({description: 'With --api: how long the replica may take to load its model and report ready.', default: '120s'}),
    seed: flag.integer({description: 'Open loop with --arrival poisson: the seed of the schedule, to repeat a run exactly.'}),
  }

  async run(): Promise<LoadResult> {
    const {args, flags} = await this.parse(Loadtest)
    const {timeout: timeoutMs, duration: durationMs, warmup: warmupMs, rate} = flags
    const readinessTimeoutMs = flags['readiness-timeout']
    const thresholds: ThresholdSpec = {maxP99Ms: flags['max-p99'], maxErrorRate: flags['max-error-rate'], minThroughput: flags['min-throughput']}
    // flag.file accepted only the extensions reportFormatOf knows.
    const outputs = (flags.out ?? []).map((path) => ({path, format: reportFormatOf(path)!}))

    const target = resolveTarget(args.target, flags.api)
    // An API target's sample requests are its project's payloads/ (what init scaffolds), when there is no --data.
    const data = flags.data ?? (target.kind === 'api' ? projectPayloads(target.dir) : undefined)
    const request = await loadRequestSource({data, method: flags.method, headers: flags.header, defaultBody: target.kind === 'api' ? '{}' : undefined})

    // Ctrl-C: the first stops the run and reports what was measured; the second stops the API at once and quits.
    const controller = new AbortController()
    let api: ApiTarget | null = null
    const interrupts = onInterrupt({
      gracefulNote: () => color.yellow('Stopping: reporting what was measured so far; Ctrl-C again to quit at once.'),
      graceful: () => controller.abort(),
      immediateNote: 'Stopping now, without draining.',
      immediate: () => void (api?.stop({drain: false}) ?? Promise.resolve()).finally(() => process.exit(130)),
    })

    let result: LoadResult
    try {
      let url: string
      if (target.kind === 'api') {
        this.say(`Starting ${flags.api ? `API ${flags.api}` : 'the API'} of ${target.dir} with one replica …`)
        api = await startApiTarget({
          project: await loadProject(target.dir),
          api: flags.api,
          readinessTimeoutMs,
          log: (line) => {
            if (flags.verbose && !this.jsonEnabled()) say(color.dim(line))
          },
        })
        for (const warning of api.warnings) this.note(`${warning.file}:${warning.line}:${warning.column} ${warning.message}`)
        url = api.url
        this.say(`Ready: ${url} (API ${api.api} of ${displayPath(api.file)}, 1 replica)`)
      } else {
        url = target.url
      }
      if (controller.signal.aborted) {
        say('Stopped before the load test started.')
        this.exit(130)
      }
      await probeTarget(url, request, timeoutMs)

      const live = isInteractive() && !this.jsonEnabled()
      const onSecond = live ? (s: SecondStats) => say(color.dim(progressLine(s))) : undefined
      const common = {url, request, durationMs, amount: flags.amount, warmupMs, timeoutMs, onSecond, signal: controller.signal, api: api?.api}
      // Against an API we started, the default stays within max_replica_concurrency, so the run measures the model rather than shedding.
      const connections = flags.connections ?? Math.min(DEFAULT_CONNECTIONS, api?.maxReplicaConcurrency ?? DEFAULT_CONNECTIONS)
      const loadText = rate === undefined ? `${connections} connections (closed loop)` : `${num(rate, 2)} req/s (open loop, ${flags.arrival ?? 'constant'})`
      const lengthText = flags.amount === undefined ? `${num((durationMs ?? 10_000) / 1000, 3)} s` : `${flags.amount} requests`
      this.say(`Load: ${loadText} for ${lengthText}${warmupMs > 0 ? ` after ${num(warmupMs / 1000, 3)} s of warm-up` : ''} …`)
      result =
        rate === undefined
          ? await runClosedLoop({...common, connections})
          : await runOpenLoop({
              ...common,
              rate,
              arrival: flags.arrival ?? 'constant',
              maxConnections: flags['max-connections'],
              seed: flags.seed,
            })
    } finally {
      if (api) await api.stop()
      interrupts.dispose()
    }

    if (result.requests.total > 0 && result.errorRate >= 0.1) {
      const r = result.requests
      result.warnings.push(
        `${num(result.errorRate * 100, 3)}% of requests failed (${r.shed} shed with 503, ${r.httpErrors} other HTTP errors, ${r.timeouts} timeouts, ${r.connectionErrors} connection errors): throughput counts only the 2xx answers, and the latency table times them apart from the failures. Check --data (the predictor may reject the body) and the connections against max_replica_concurrency.`,
      )
    }
    const checked = thresholds.maxP99Ms !== undefined || thresholds.maxErrorRate !== undefined || thresholds.minThroughput !== undefined
    if (checked) result.thresholds = checkThresholds(result, stripUndefined(thresholds))

    for (const {path, format} of outputs) {
      await mkdir(dirname(resolve(path)), {recursive: true})
      await writeFile(path, renderLoadReport(result, format))
    }

    if (!this.jsonEnabled()) {
      say(renderLoadTable(result))
      for (const warning of [...result.generator.warnings, ...result.warnings]) this.note(warning)
      for (const {path} of outputs) this.say(`Wrote ${path}`)
      if (result.thresholds?.passed) this.say(color.green('All thresholds met.'))
    }
    if (result.thresholds && !result.thresholds.passed) {
      // One line, on stderr even under --json, so a CI log shows why the step failed.
      say(`${color.red('Threshold missed:')} ${result.thresholds.failures.join('; ')}`)
      process.exitCode = 1
    }
    if (result.aborted) process.exitCode = process.exitCode || 130
    return result
  }
}

type Target = {kind: 'url'; url: string} | {kind: 'api'; dir: string}

function resolveTarget(target: string | undefined, api: string | undefined): Target {
  if (target !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    if (api !== undefined) throw mlserveError('MLS_LOADTEST_TARGET', {detail: `both a URL (${target}) and --api ${api} were given`})
    let url: URL
    try {
      url = new URL(target)
    } catch {
      throw mlserveError('MLS_LOADTEST_TARGET', {detail: `${target} is not a valid URL`})
    }
    if (url.protocol !== 'http:') throw mlserveError('MLS_LOADTEST_TARGET', {detail: `only http:// URLs can be tested, got ${url.protocol}//`})
    return {kind: 'url', url: url.href}
  }
  if (target === undefined && api === undefined) throw mlserveError('MLS_LOADTEST_TARGET', {detail: 'neither a URL nor --api was given'})
  const dir = target ?? '.'
  if (!existsSync(dir)) throw mlserveError('MLS_LOADTEST_TARGET', {detail: `${dir} is neither an http:// URL nor an existing directory`})
  return {kind: 'api', dir}
}

function stripUndefined(spec: ThresholdSpec): ThresholdSpec {
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as ThresholdSpec
}

function progressLine(s: SecondStats): string {
  const sent = s.sent === null ? '' : `  sent ${num(s.sent, 0)}${s.lateSends ? ` (${s.lateSends} late)` : ''}`
  // The percentiles are the successful answers'; sheds are counted, not timed, here (the summary times them apart).
  return `  ${String(s.second + 1).padStart(4)}s  ${num(s.throughput, 1).padStart(9)} req/s  2xx p50 ${ms(s.p50Ms).padStart(8)} ms  p99 ${ms(s.p99Ms).padStart(8)} ms  failed ${num(s.failed, 0)}${s.shed > 0 ? ` (${num(s.shed, 0)} shed)` : ''}${sent}`
}

function projectPayloads(dirOrFile: string): string | undefined {
  const dir = existsSync(dirOrFile) && statSync(dirOrFile).isFile() ? dirname(dirOrFile) : dirOrFile
  const payloads = join(dir, 'payloads')
  return existsSync(payloads) ? payloads : undefined
}
