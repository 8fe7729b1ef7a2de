import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import * as flag from '../../cli/flags.js'
import {onInterrupt} from '../../cli/interrupt.js'
import {color} from '../../cli/ui.js'
import type {RolloutResult} from '../../client/rollout.js'

export interface TrafficRolloutResult extends Omit<RolloutResult, 'error'> {
  url: string
  /** The config file the final weights were written to (--write, on completion), or null. */
  written: string | null
  /** Why the rollout did not complete, as every mlserve error reads; null when it completed or was interrupted. */
  error: {code: string; message: string; suggestion: string; details: string[]} | null
}

export default class TrafficRollout extends BaseCommand {
  static override summary = "Raise an API's share of a running TrafficSplitter step by step, rolling back when a step fails."

  static override description = `Moves traffic of SPLITTER to API in steps (--steps, percent), holding each for --interval. At each step the splitter's other APIs share the rest in proportion to their weights before the rollout. Before a step, API must have the ready replicas its share needs: ceil(R × share / 100), R being the min_replicas \`mlserve tune\` recommended for API when it was tuned (.mlserve/tune/API.json), else autoscaling.min_replicas of the API that carries the most traffic now; it waits up to --ready-timeout for them, then stops and leaves the weights as they are. Each step is judged on the gateway's own figures for API over that step (read every second): once it holds --min-requests answers, an error rate above --max-error-rate or a p99 above --max-p99 puts the weights before the rollout back at once and fails. Ctrl-C puts them back too. With --write, the final weights are written into mlserve.yaml when the rollout completes.`

  static override examples = [
    '<%= config.bin %> traffic rollout iris iris-b --steps 1,10,50,100 --interval 60s',
    '<%= config.bin %> traffic rollout iris iris-b --steps 10,50,100 --interval 2m --max-error-rate 0.5% --max-p99 200 --write',
  ]

  static override args = {
    splitter: Args.string({description: 'The TrafficSplitter to change.', required: true}),
    api: Args.string({description: 'The API whose share rises.', required: true}),
  }

  static override flags = {
    steps: flag.intList({description: "The API's shares to reach, in percent, comma-separated (from 1 to 100); shares at or below its share now are skipped. Such as 1,10,50,100.", required: true}),
    interval: flag.duration({description: 'How long each step is held and judged, such as 60s or 2m.', required: true}),
    'max-error-rate': flag.fraction({description: "The highest share of the API's answers over a step that may fail (>= 500 other than 503): 0.01 or 1%.", default: '0.01'}),
    'max-p99': flag.milliseconds({description: "The highest p99 of the API's answers over a step, in milliseconds; not checked by default."}),
    'min-requests': flag.count({description: 'How many answers of the API a step must hold before it is judged; a step that ends with fewer warns (or fails, with --require-traffic).', default: '20'}),
    'require-traffic': Flags.boolean({description: 'Fail, and roll back, when a step ends with fewer than --min-requests answers instead of warning.', default: false}),
    'ready-timeout': flag.durationOrZero({description: 'How long to wait before a step for the ready replicas its share needs.', default: '60s'}),
    url: Flags.string({description: 'The gateway of the runtime, such as http://127.0.0.1:8888; by default the runtime on this machine that serves the splitter.'}),
    env: flag.environmentName({description: "The environment `mlserve deploy` deployed the gateway to: its deploy record on this machine gives the gateway's URL and token.", exclusive: ['url']}),
    dir: Flags.string({description: 'The project directory or config file: where min_replicas and the tune record are read and --write writes; by default the file the runtime was started from.'}),
    write: Flags.boolean({description: "When the rollout completes, write the final weights into the project's mlserve.yaml, keeping its comments.", default: false}),
  }

  async run(): Promise<TrafficRolloutResult> {
    const {args, flags} = await this.parse(TrafficRollout)
    const [client, {rollout}, {readTuneRecord}, {mlserveError}, report] = await Promise.all([
      import('../../client/traffic.js'),
      import('../../client/rollout.js'),
      import('../../tune/record.js'),
      import('../../errors.js'),
      import('../../report/rollout.js'),
    ])
    const over = flags.steps.find((share) => share > 100)
    if (over !== undefined) throw mlserveError('MLS_INVALID_FLAG', {flag: '--steps', value: flags.steps.join(','), expected: 'comma-separated whole percentages from 1 to 100, such as 1,10,50,100'})

    const target = flags.env ? client.findDeployedTarget(flags.env, args.splitter) : client.findSplitterTarget(args.splitter, flags.url)
    const configFile = flags.dir ?? target.project ?? target.record?.project
    // Read the config (and check --write can write) before anything changes.
    let configMinReplicas: Record<string, number> | null = null
    let projectDir: string | null = null
    if (configFile) {
      const {loadProject, realtimeApis} = await import('../../config/index.js')
      const project = await loadProject(configFile)
      projectDir = project.dir
      configMinReplicas = Object.fromEntries(realtimeApis(project).map((api) => [api.name, api.autoscaling.min_replicas]))
    }
    let write: ((weights: Record<string, number>) => Promise<string>) | null = null
    if (flags.write) {
      const {configFileFor, prepareWeightsWrite} = await import('./set.js')
      write = await prepareWeightsWrite(await configFileFor('traffic rollout', configFile, undefined), args.splitter)
    }
    const tuneRecord = projectDir ? await readTuneRecord(projectDir, args.api) : null

    // Ctrl-C: the first puts the weights before the rollout back, then exits; the second quits at once, leaving the weights as they are.
    const controller = new AbortController()
    const interrupts = onInterrupt({
      gracefulNote: () => color.yellow('Stopping: putting the weights before the rollout back; Ctrl-C again to quit at once and leave the weights as they are.'),
      graceful: () => controller.abort(),
      immediateNote: 'Quitting now; the weights in force stay (`mlserve traffic show` lists them).',
      immediate: () => process.exit(130),
    })

    this.say(`Rolling out ${args.api} on ${args.splitter} (${target.url}): ${flags.steps.join('% → ')}%, ${Math.round(flags.interval / 1000)} s a step.`)
    let result: RolloutResult
    try {
      result = await rollout(
        {
          status: () => client.trafficStatus(target),
          setWeights: async (weights) => {
            await client.setWeights(target, args.splitter, weights)
          },
          sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
          now: () => performance.now(),
        },
        {
          splitter: args.splitter,
          api: args.api,
          steps: flags.steps,
          intervalMs: flags.interval,
          maxErrorRate: flags['max-error-rate'],
          maxP99Ms: flags['max-p99'],
          minRequests: flags['min-requests'],
          requireTraffic: flags['require-traffic'],
          readyTimeoutMs: flags['ready-timeout'],
          tuneRecord,
          configMinReplicas,
          signal: controller.signal,
          onEvent: (event) => {
            if (event.kind === 'started') this.say(color.dim(`From ${report.formatWeights(event.weights)}; replicas for the full load: ${event.basis.replicas} (${event.basis.source}).`))
            if (event.kind === 'skipped') this.say(color.dim(`Skipping ${event.steps.join('%, ')}%: ${args.api} has ${event.share}% already.`))
            if (event.kind === 'waiting-for-replicas') this.say(color.dim(`Waiting for ${event.needed} ready replicas of ${args.api} for ${event.share}% (${event.ready} ready) …`))
            if (event.kind === 'step-started') this.say(color.dim(`[${event.index + 1}/${event.count}] ${event.share}%: ${report.formatWeights(event.weights)} for ${Math.round(flags.interval / 1000)} s …`))
            if (event.kind === 'step-finished') {
              const line = report.renderRolloutStep(event.step, event.index, event.count)
              this.say(event.step.verdict === 'passed' ? line : event.step.verdict === 'low-traffic' ? color.yellow(line) : color.red(line))
            }
          },
        },
      )
    } finally {
      interrupts.dispose()
    }

    for (const warning of result.warnings) this.note(warning)
    const written = write && result.outcome === 'completed' ? await write(result.finalWeights) : null
    this.say(report.renderRolloutSummary(result))
    if (written) this.say(color.dim(`Wrote the weights to ${written}.`))

    if (result.error && !this.jsonEnabled()) throw result.error
    if (result.error) process.exitCode = result.error.exitCode
    if (result.outcome === 'interrupted') process.exitCode = 130
    return {...result, url: target.url, written, error: result.error ? result.error.toJSON() : null}
  }
}
