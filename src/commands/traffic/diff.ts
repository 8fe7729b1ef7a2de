import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import * as flag from '../../cli/flags.js'
import type {DiffReport} from '../../runtime/gateway/traffic-types.js'

export interface TrafficDiffResult {
  url: string
  splitter: string
  report: DiffReport
}

/** A number of 0 or more, such as 1e-6. */
const tolerance = Flags.custom<number>({
  parse: async (input: string) => {
    const value = input.trim() === '' ? NaN : Number(input)
    if (!Number.isFinite(value) || value < 0) throw new flag.FlagValueError('--tolerance', input, 'a number of 0 or more, such as 1e-6 or 0.01')
    return value
  },
})

export default class TrafficDiff extends BaseCommand {
  static override summary = 'Compare a splitter\'s shadow API with the API that answered, over the requests both got.'

  static override description =
    'For the last shadowed requests of SPLITTER (the runtime keeps a ring of them): how often the shadow\'s answer equals the primary\'s, exactly or within --tolerance for numbers, how often their statuses differ (one answered 2xx, the other not), how often the shadow failed, both latencies over the same requests, and a few of the requests they disagree on, with both answers.'

  static override examples = ['<%= config.bin %> traffic diff iris', '<%= config.bin %> traffic diff iris --tolerance 0.01 --examples 10', '<%= config.bin %> traffic diff iris --json']

  static override args = {
    splitter: Args.string({description: 'The TrafficSplitter whose shadow to compare.', required: true}),
  }

  static override flags = {
    tolerance: tolerance({description: 'The largest relative difference, |a−b| / max(1, |a|, |b|), between two numbers in the answers that still counts as agreement.', default: 1e-6}),
    examples: flag.count({description: 'How many disagreeing requests to show, with both answers.', default: '5'}),
    url: Flags.string({description: 'The gateway of the runtime, such as http://127.0.0.1:8888; by default the runtime on this machine that serves the splitter.'}),
    env: flag.environmentName({description: "The environment `mlserve deploy` deployed the gateway to: its deploy record on this machine gives the gateway's URL and token.", exclusive: ['url']}),
  }

  async run(): Promise<TrafficDiffResult> {
    const {args, flags} = await this.parse(TrafficDiff)
    const [client, {renderDiffText}] = await Promise.all([import('../../client/traffic.js'), import('../../report/traffic-diff.js')])
    const target = flags.env ? client.findDeployedTarget(flags.env, args.splitter) : client.findSplitterTarget(args.splitter, flags.url)
    const report = await client.diff(target, args.splitter, {tolerance: flags.tolerance, examples: flags.examples})
    this.say(renderDiffText(report, args.splitter))
    return {url: target.url, splitter: args.splitter, report}
  }
}
