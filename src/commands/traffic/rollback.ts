import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import * as flag from '../../cli/flags.js'
import {color} from '../../cli/ui.js'
import type {SplitterStatus} from '../../runtime/gateway/traffic-types.js'

export interface TrafficRollbackResult {
  url: string
  splitter: string
  /** The weights replaced (now the splitter's `previous`). */
  before: Record<string, number>
  after: SplitterStatus
  /** The config file the restored weights were written to (--write), or null. */
  written: string | null
}

export default class TrafficRollback extends BaseCommand {
  static override summary = 'Restore the weights a running TrafficSplitter had before its last change.'

  static override description =
    'Puts back the weights in force before the last `mlserve traffic set` (or rollback) on the runtime that serves SPLITTER; the weights replaced are kept, so a second rollback undoes the first. A splitter whose weights have not changed since the runtime started has nothing to restore. With --write, the restored weights are also written into the project\'s mlserve.yaml, keeping its comments.'

  static override examples = ['<%= config.bin %> traffic rollback iris', '<%= config.bin %> traffic rollback iris --write']

  static override args = {
    splitter: Args.string({description: 'The TrafficSplitter to roll back.', required: true}),
  }

  static override flags = {
    url: Flags.string({description: 'The gateway of the runtime, such as http://127.0.0.1:8888; by default the runtime on this machine that serves the splitter.'}),
    env: flag.environmentName({description: "The environment `mlserve deploy` deployed the gateway to: its deploy record on this machine gives the gateway's URL and token.", exclusive: ['url']}),
    write: Flags.boolean({description: 'Also write the restored weights into the project\'s mlserve.yaml (the file the runtime was started from), keeping its comments.', default: false}),
    dir: Flags.string({description: 'With --write, the project directory or config file to write the weights into, instead of the file the runtime was started from.', dependsOn: ['write']}),
  }

  async run(): Promise<TrafficRollbackResult> {
    const {args, flags} = await this.parse(TrafficRollback)
    const [client, {configFileFor, prepareWeightsWrite}] = await Promise.all([import('../../client/traffic.js'), import('./set.js')])
    const target = flags.env ? client.findDeployedTarget(flags.env, args.splitter) : client.findSplitterTarget(args.splitter, flags.url)
    const write = flags.write ? await prepareWeightsWrite(await configFileFor('traffic rollback', target.project ?? target.record?.project, flags.dir), args.splitter) : null
    const after = await client.rollback(target, args.splitter)
    const before = after.previous ?? {}
    const written = write ? await write(after.weights) : null
    const {renderWeightChange} = await import('../../report/traffic.js')
    this.say(renderWeightChange(`${args.splitter} on ${target.url} (rolled back)`, before, after.weights))
    if (written) this.say(color.dim(`Wrote the weights to ${written}.`))
    return {url: target.url, splitter: args.splitter, before, after, written}
  }
}
