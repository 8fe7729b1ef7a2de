import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import * as flag from '../../cli/flags.js'
import {color} from '../../cli/ui.js'
import type {SplitterStatus} from '../../runtime/gateway/traffic-types.js'

export interface TrafficSetResult {
  url: string
  splitter: string
  /** The weights before the change. */
  before: Record<string, number>
  /** The splitter as the runtime answered after the change. */
  after: SplitterStatus
  /** The config file the new weights were written to (--write), or null. */
  written: string | null
}

export default class TrafficSet extends BaseCommand {
  static override summary = 'Change the weights of a running TrafficSplitter, without a restart.'

  static override description =
    'Puts new weights in force on the runtime that serves SPLITTER: give API=WEIGHT for every non-shadow API of the splitter, whole numbers adding up to 100, or leave one API out and it gets what the others leave of 100. Requests already in flight finish where they started; the weights replaced are kept, and `mlserve traffic rollback` restores them. With --write, the new weights are also written into the project\'s mlserve.yaml, keeping its comments.'

  static override examples = [
    '<%= config.bin %> traffic set iris iris-a=90 iris-b=10',
    '<%= config.bin %> traffic set iris iris-b=50',
    '<%= config.bin %> traffic set iris iris-b=100 --write',
  ]

  // The weights are any number of API=WEIGHT words after the splitter.
  static override strict = false

  static override usage = '<%= command.id %> SPLITTER API=WEIGHT... [--url <value>] [--write [--dir <value>]] [--json]'

  static override args = {
    splitter: Args.string({description: 'The TrafficSplitter to change.', required: true}),
  }

  static override flags = {
    url: Flags.string({description: 'The gateway of the runtime, such as http://127.0.0.1:8888; by default the runtime on this machine that serves the splitter.'}),
    env: flag.environmentName({description: "The environment `mlserve deploy` deployed the gateway to: its deploy record on this machine gives the gateway's URL and token.", exclusive: ['url']}),
    write: Flags.boolean({description: 'Also write the new weights into the project\'s mlserve.yaml (the file the runtime was started from), keeping its comments.', default: false}),
    dir: Flags.string({description: 'With --write, the project directory or config file to write the weights into, instead of the file the runtime was started from.', dependsOn: ['write']}),
  }

  async run(): Promise<TrafficSetResult> {
    const {args, argv, flags} = await this.parse(TrafficSet)
    const client = await import('../../client/traffic.js')
    // argv holds the splitter first, then the weights.
    const given = client.parseWeightArgs((argv as string[]).slice(1))
    const target = flags.env ? client.findDeployedTarget(flags.env, args.splitter) : client.findSplitterTarget(args.splitter, flags.url)
    const current = await client.splitterStatus(target, args.splitter)
    const weights = client.completeWeights(current, given)
    const write = flags.write ? await prepareWeightsWrite(await configFileFor('traffic set', target.project ?? target.record?.project, flags.dir), args.splitter) : null
    const after = await client.setWeights(target, args.splitter, weights)
    const written = write ? await write(after.weights) : null
    const {renderWeightChange} = await import('../../report/traffic.js')
    this.say(renderWeightChange(`${args.splitter} on ${target.url}`, current.weights, after.weights))
    if (written) this.say(color.dim(`Wrote the weights to ${written}.`))
    return {url: target.url, splitter: args.splitter, before: current.weights, after, written}
  }
}

/** The config file --write edits: --dir, else the one the runtime was started from. */
export async function configFileFor(command: string, project: string | undefined, dir: string | undefined): Promise<string> {
  if (dir) return dir
  if (project) return project
  // --url named a gateway no record on this machine describes, so its config file is unknown.
  const {mlserveError} = await import('../../errors.js')
  throw mlserveError('MLS_FLAG_MISSING', {command, flags: ['--dir']})
}

/**
 * Checks, before anything changes, that the config file has the splitter;
 * resolves with the function that writes weights into its entries (comments
 * and formatting kept, atomic) and returns the file written.
 */
export async function prepareWeightsWrite(pathOrDir: string, splitter: string): Promise<(weights: Record<string, number>) => Promise<string>> {
  const [{loadProject, trafficSplitters, updateConfigFile, displayPath}, {mlserveError}] = await Promise.all([import('../../config/index.js'), import('../../errors.js')])
  const project = await loadProject(pathOrDir)
  const config = trafficSplitters(project).find((s) => s.name === splitter)
  if (!config) {
    throw mlserveError('MLS_API_NOT_FOUND', {name: splitter, file: displayPath(project.file), available: trafficSplitters(project).map((s) => s.name)})
  }
  return async (weights) => {
    const edits = Object.entries(weights).map(([api, weight]) => {
      const index = config.apis.findIndex((entry) => entry.name === api && !entry.shadow)
      if (index < 0) {
        throw mlserveError('MLS_API_NOT_FOUND', {name: api, file: `TrafficSplitter "${splitter}" of ${displayPath(project.file)}`, available: config.apis.filter((e) => !e.shadow).map((e) => e.name)})
      }
      return {api: splitter, path: ['apis', index, 'weight'], value: weight}
    })
    await updateConfigFile(project.file, edits)
    return displayPath(project.file)
  }
}
