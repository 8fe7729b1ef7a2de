import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import * as flag from '../cli/flags.js'
import {onInterrupt} from '../cli/interrupt.js'
import {color, say, warn} from '../cli/ui.js'
import {availableCpus, formatCpuList, pinProcess} from '../runtime/cpus.js'
import {runtimeDefaults} from '../runtime/defaults.js'
import type {RuntimeStatus} from '../runtime/index.js'
import {plural} from '../plural.js'

export interface RunResult {
  url: string
  apis: Array<{name: string; url: string; replicas: number}>
  /** The TrafficSplitters served, each at its own URL. */
  splitters: Array<{name: string; url: string; weights: Record<string, number>}>
  stoppedBy: string
  final: RuntimeStatus
}

export default class Run extends BaseCommand {
  static override summary = 'Serve the APIs of a project locally, behind a gateway with admission control.'

  static override description = `Starts autoscaling.init_replicas (by default min_replicas) replicas of each RealtimeAPI, then autoscales each between min_replicas and max_replicas as Cortex does, every 10 s, to keep target_replica_concurrency requests in flight per replica (mlserve status shows current, desired and why); --replicas N fixes the count instead. Each replica runs processes_per_replica processes of threads_per_process threads. The gateway serves every API at its networking.endpoint on one port: at most processes × threads requests run per replica, further ones queue, and past max_replica_concurrency a request gets 503 with Retry-After. Each TrafficSplitter is served at its endpoint too, splitting requests between its APIs by weight (live weights: \`mlserve traffic\`; a new mlserve.yaml: \`mlserve apply\`). GET /metrics serves Prometheus metrics and GET /status the live state. Ctrl-C drains the requests in flight, then stops every process.`

  static override examples = [
    '<%= config.bin %> run my-model',
    '<%= config.bin %> run . --port 9000 --replicas 2',
    'MLSERVE_PYTHON=/usr/bin/python3 <%= config.bin %> run . --api iris --access-log',
  ]

  static override args = {
    dir: Args.string({description: 'The project directory or its mlserve.yaml.', default: '.'}),
  }

  static override flags = {
    port: flag.port({description: 'The port the gateway listens on; 0 picks a free one.', default: String(runtimeDefaults.port)}),
    host: Flags.string({description: 'The address the gateway binds to.', default: runtimeDefaults.host}),
    api: Flags.string({description: 'Serve only this API (repeat the flag for several); by default every RealtimeAPI is served.', multiple: true}),
    replicas: flag.positiveInt({description: 'A fixed count of replicas per API, overriding autoscaling.init_replicas; autoscaling is off.'}),
    timeout: flag.duration({description: 'The end-to-end limit per request, queueing included; past it the gateway answers 504.', default: '60s'}),
    'readiness-timeout': flag.duration({description: 'How long a replica may take to load its model and report ready before mlserve gives up.', default: '120s'}),
    'max-body-size': flag.size({description: 'The largest request body accepted; larger ones get 413.', default: '10Mi'}),
    'access-log': Flags.boolean({description: 'Print one line per request (status, latency, replica, request id) to stderr.', default: false}),
    driver: Flags.option({description: 'How replicas run: process (local process groups) or docker (one container per replica, from the image `mlserve build` made, or the one given with the image flag).', options: ['process', 'docker'] as const, default: 'process'})(),
    image: Flags.string({description: 'The image every API runs from under the docker driver, such as my-api:0.1.0. Without it, each API runs the newest local image tagged with its name (NAME:*), which is what `mlserve build` made last.'}),
    'replica-cpus': flag.cpuList({description: 'Run every replica on these CPUs only, such as 1 or 2-3 (CPU affinity; a container\'s cpuset under docker), and mlserve itself (the gateway) on the other CPUs it may use: a replica on cores of its own, as `mlserve tune` measures it.'}),
  }

  /** Under --json, stdout holds JSON lines: the ready event, then this result at exit. */
  protected override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json)}\n`)
  }

  protected override toSuccessJson(result: RunResult): {event: 'stopped'} & RunResult {
    return {event: 'stopped', ...result}
  }

  async run(): Promise<RunResult> {
    const {args, flags} = await this.parse(Run)
    // run is long-lived and watched: its human lines go to stderr under --json too (stdout has the JSON lines).
    const note = (line: string): void => warn(line)
    const [{loadProject}, {planRuntime, Runtime}] = await Promise.all([import('../config/index.js'), import('../runtime/index.js')])

    const project = await loadProject(args.dir)
    // Cortex fields mlserve ignores (src/config/compat.ts), among others.
    for (const warning of project.warnings) note(`${warning.file}:${warning.line}:${warning.column} ${warning.message}`)
    const image = flags.image
    if (flags.driver !== 'docker' && image) note('--image is used only with --driver docker; ignoring it.')

    const log = (line: string): void => say(color.dim(line))
    say(`Starting ${project.file} …`)
    const plan = await planRuntime(project, {
      host: flags.host,
      port: flags.port,
      apis: flags.api,
      replicas: flags.replicas,
      timeoutMs: flags.timeout,
      maxBodyBytes: flags['max-body-size'],
      readinessTimeoutMs: flags['readiness-timeout'],
      retryAfterSeconds: runtimeDefaults.retryAfterSeconds,
      accessLog: flags['access-log'],
      log,
      driver: flags.driver,
      image,
      replicaCpus: flags['replica-cpus'],
    })
    if (flags['replica-cpus']) await pinGateway(flags['replica-cpus'], note)
    const runtime = await Runtime.start(plan, {log})

    // Ctrl-C: the first drains the requests in flight, the second stops at once.
    let forced: Promise<void> = new Promise(() => {})
    const interrupts = onInterrupt({
      graceful: () => {},
      immediate: () => {
        forced = runtime.stop({drain: false})
      },
    })

    const status = runtime.status()
    const apis = status.apis.map((api) => ({name: api.name, url: runtime.endpointUrl(api.name), replicas: api.replicas.length}))
    const splitters = status.splitters.map((splitter) => ({name: splitter.name, url: `${runtime.url}${splitter.endpoint}`, weights: splitter.weights}))
    if (this.jsonEnabled()) this.logJson({event: 'ready', url: runtime.url, apis, splitters})
    say(color.green(`Ready: ${runtime.url}`))
    for (const api of status.apis) {
      const replica = api.replicas[0]
      const jobs = runtime.asyncJobs?.api(api.name)
      const scaling = api.autoscaler?.enabled ? `; autoscaled between ${api.autoscaler.min} and ${api.autoscaler.max}` : api.autoscaler ? '; a fixed count' : ''
      const shape = `${plural(api.replicas.length, 'replica')} × ${plural(replica.processes, 'process', 'processes')} × ${plural(replica.threads, 'thread')}, max_replica_concurrency ${replica.maxReplicaConcurrency}${scaling}`
      if (jobs) {
        // Two lines of their own: the job routes, then the replicas that run the jobs (not a POST endpoint of their own).
        say(`  ${color.bold(api.name)}  AsyncAPI  POST ${runtime.endpointUrl(api.name)} → {"id"}   GET ${runtime.endpointUrl(api.name)}/<id> → status and result`)
        say(`  ${' '.repeat(api.name.length)}  jobs kept in the ${jobs.plan.store} job store, run by ${shape}`)
        continue
      }
      say(`  ${color.bold(api.name)}  POST ${runtime.endpointUrl(api.name)}  (${shape})`)
    }
    for (const splitter of status.splitters) {
      const weights = Object.entries(splitter.weights).map(([api, weight]) => `${api} ${weight}%`).join(', ')
      const shadow = splitter.shadow ? `; shadow ${splitter.shadow.api} (${splitter.shadow.percent}% copied)` : ''
      say(`  ${color.bold(splitter.name)}  POST ${runtime.url}${splitter.endpoint}  (TrafficSplitter: ${weights}${shadow})`)
    }
    say(`  metrics  GET ${runtime.url}/metrics    status  GET ${runtime.url}/status`)
    say(color.dim('Press Ctrl-C to stop (twice to stop at once, without draining).'))

    const signal = await interrupts.first
    // An AsyncAPI's running jobs are drained too (one unfinished at the deadline goes back to its queue), so they are counted.
    const jobs = runtime.asyncJobs ? ` and ${plural(runtime.asyncJobs.running(), 'async job')} running` : ''
    say(`Received ${signal}: draining ${plural(runtime.gateway.inFlight(), 'request')} in flight${jobs}, then stopping replicas (Ctrl-C again to stop at once) …`)
    const final = runtime.status()
    await Promise.race([runtime.stop(), interrupts.second.then(() => forced)])
    interrupts.dispose()
    say('Stopped.')
    return {url: runtime.url, apis, splitters, stoppedBy: signal, final}
  }
}

/** mlserve itself (the gateway) on the CPUs the replicas leave, so neither takes the other's cores. */
async function pinGateway(replicaCpus: number[], note: (line: string) => void): Promise<void> {
  const available = availableCpus()
  const rest = available.filter((cpu) => !replicaCpus.includes(cpu))
  if (rest.length === 0) {
    note(`--replica-cpus ${formatCpuList(replicaCpus)} is every CPU mlserve may use (${formatCpuList(available)}): the gateway shares them with the replicas.`)
    return
  }
  if (await pinProcess(process.pid, rest, note)) note(`Replicas run on CPUs ${formatCpuList(replicaCpus)}; the gateway on CPUs ${formatCpuList(rest)}.`)
}
