import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {durationFlag, positiveIntFlag, sizeFlag} from '../cli/parse.js'
import {color, say} from '../cli/ui.js'
import {loadProject, trafficSplitters} from '../config/index.js'
import {mlserveError} from '../errors.js'
import {planRuntime} from '../runtime/plan.js'
import {Runtime, runtimeDefaults, type RuntimeStatus} from '../runtime/runtime.js'

export interface RunResult {
  url: string
  apis: Array<{name: string; url: string; replicas: number}>
  stoppedBy: string
  final: RuntimeStatus
}

export default class Run extends BaseCommand {
  static override summary = 'Serve the APIs of a project locally, behind a gateway with admission control.'

  static override description = `Starts autoscaling.min_replicas replicas of each RealtimeAPI (or --replicas N). Each replica runs processes_per_replica processes of threads_per_process threads. The gateway serves every API at its networking.endpoint on one port: at most processes × threads requests run per replica, further ones queue, and past max_replica_concurrency a request gets 503 with Retry-After. GET /metrics serves Prometheus metrics and GET /status the live state. Ctrl-C drains the requests in flight, then stops every process.`

  static override examples = [
    '<%= config.bin %> run my-model',
    '<%= config.bin %> run . --port 9000 --replicas 2',
    'MLSERVE_PYTHON=/usr/bin/python3 <%= config.bin %> run . --api iris --access-log',
  ]

  static override args = {
    dir: Args.string({description: 'The project directory or its mlserve.yaml.', default: '.'}),
  }

  static override flags = {
    port: Flags.integer({description: 'The port the gateway listens on; 0 picks a free one.', default: runtimeDefaults.port}),
    host: Flags.string({description: 'The address the gateway binds to.', default: runtimeDefaults.host}),
    api: Flags.string({description: 'Serve only this API (repeat the flag for several); by default every RealtimeAPI is served.', multiple: true}),
    replicas: Flags.integer({description: 'Replicas to start per API, overriding autoscaling.min_replicas.'}),
    timeout: Flags.string({description: 'The end-to-end limit per request, queueing included; past it the gateway answers 504.', default: '60s'}),
    'readiness-timeout': Flags.string({description: 'How long a replica may take to load its model and report ready before mlserve gives up.', default: '120s'}),
    'max-body-size': Flags.string({description: 'The largest request body accepted; larger ones get 413.', default: '10Mi'}),
    'access-log': Flags.boolean({description: 'Print one line per request (status, latency, replica, request id) to stderr.', default: false}),
    driver: Flags.string({description: 'How replicas run: process (local process groups) or docker (one container per replica, from the image `mlserve build` made, or the one given with the image flag).', options: ['process', 'docker'], default: 'process'}),
    image: Flags.string({description: 'The image every API runs from under the docker driver, such as my-api:0.1.0. Without it, each API runs the newest local image tagged with its name (NAME:*), which is what `mlserve build` made last.'}),
  }

  async run(): Promise<RunResult> {
    const {args, flags} = await this.parse(Run)
    const timeoutMs = durationFlag('--timeout', flags.timeout)
    const readinessTimeoutMs = durationFlag('--readiness-timeout', flags['readiness-timeout'])
    const maxBodyBytes = sizeFlag('--max-body-size', flags['max-body-size'])
    if (flags.replicas !== undefined) positiveIntFlag('--replicas', flags.replicas)

    const project = await loadProject(args.dir)
    for (const warning of project.warnings) this.note(`${warning.file}:${warning.line}:${warning.column} ${warning.message}`)
    for (const splitter of trafficSplitters(project)) {
      this.note(`TrafficSplitter "${splitter.name}" is not served by mlserve run yet (traffic splitting is planned); its APIs are served at their own endpoints.`)
    }
    const driver = flags.driver as 'process' | 'docker'
    const image = flags.image
    if (driver !== 'docker' && image) this.note('--image is used only with --driver docker; ignoring it.')

    const log = (line: string): void => say(color.dim(line))
    this.say(`Starting ${project.file} …`)
    const plan = await planRuntime(project, {
      host: flags.host,
      port: flags.port,
      apis: flags.api,
      replicas: flags.replicas,
      timeoutMs,
      maxBodyBytes,
      readinessTimeoutMs,
      retryAfterSeconds: runtimeDefaults.retryAfterSeconds,
      accessLog: flags['access-log'],
      log,
      driver,
      image,
    })
    const runtime = await Runtime.start(plan, {log})

    const status = runtime.status()
    this.say(color.green(`Ready: ${runtime.url}`))
    for (const api of status.apis) {
      const replica = api.replicas[0]
      this.say(`  ${color.bold(api.name)}  POST ${runtime.endpointUrl(api.name)}  (${api.replicas.length} replica(s) × ${replica.processes} process(es) × ${replica.threads} thread(s), max_replica_concurrency ${replica.maxReplicaConcurrency})`)
    }
    this.say(`  metrics  GET ${runtime.url}/metrics    status  GET ${runtime.url}/status`)
    this.say(color.dim('Press Ctrl-C to stop.'))

    const signal = await waitForStopSignal(() => {
      this.say(color.yellow('Stopping now, without draining.'))
      void runtime.stop({drain: false})
    })
    this.say(`Received ${signal}: draining ${runtime.gateway.inFlight()} request(s) in flight, then stopping replicas …`)
    const final = runtime.status()
    await runtime.stop()
    this.say('Stopped.')
    return {
      url: runtime.url,
      apis: status.apis.map((api) => ({name: api.name, url: runtime.endpointUrl(api.name), replicas: api.replicas.length})),
      stoppedBy: signal,
      final,
    }
  }
}

/** Resolves on the first SIGINT/SIGTERM; a second one calls `onForce`. */
function waitForStopSignal(onForce: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false
    const handler = (signal: NodeJS.Signals): void => {
      if (received) {
        onForce()
        return
      }
      received = true
      resolve(signal)
    }
    process.on('SIGINT', handler)
    process.on('SIGTERM', handler)
  })
}
