import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import * as flag from '../../cli/flags.js'
import {color} from '../../cli/ui.js'
import type {SplitterView} from '../../report/traffic.js'

export interface TrafficShowResult {
  runtimes: Array<{url: string; splitters: SplitterView[]}>
}

export default class TrafficShow extends BaseCommand {
  static override summary = 'Show the traffic splitters of running runtimes: weights, shadow, and each API\'s live figures.'

  static override description =
    'For each TrafficSplitter a running `mlserve run` serves: its endpoint, the weights in force, the shadow API and the percentage of requests it gets a copy of, the weights `mlserve traffic rollback` would restore, and for each API its ready replicas, requests, share of the splitter\'s requests, requests shed (503), errors (other 5xx), and p50 and p99 latency since the runtime started.'

  static override examples = ['<%= config.bin %> traffic show', '<%= config.bin %> traffic show iris', '<%= config.bin %> traffic show iris --url http://127.0.0.1:8888 --json']

  static override args = {
    splitter: Args.string({description: 'The TrafficSplitter to show; by default every splitter of every runtime on this machine.'}),
  }

  static override flags = {
    url: Flags.string({description: 'The gateway to ask, such as http://127.0.0.1:8888; by default the runtimes started on this machine.'}),
    env: flag.environmentName({description: "The environment `mlserve deploy` deployed the gateway to: its deploy record on this machine gives the gateway's URL and token.", exclusive: ['url']}),
  }

  async run(): Promise<TrafficShowResult> {
    const {args, flags} = await this.parse(TrafficShow)
    const [client, report, {mlserveError}] = await Promise.all([import('../../client/traffic.js'), import('../../report/traffic.js'), import('../../errors.js')])
    const targets = flags.env
      ? [client.findDeployedTarget(flags.env, args.splitter)]
      : args.splitter
        ? [client.findSplitterTarget(args.splitter, flags.url)]
        : client.allTargets(flags.url)
    const runtimes: TrafficShowResult['runtimes'] = []
    for (const target of targets) {
      const status = await client.trafficStatus(target)
      let splitters = status.splitters
      if (args.splitter) {
        splitters = splitters.filter((s) => s.name === args.splitter)
        if (splitters.length === 0) {
          throw mlserveError('MLS_GATEWAY_SPLITTER_NOT_FOUND', {splitter: args.splitter, available: status.splitters.map((s) => s.name)})
        }
      }
      runtimes.push({url: target.url, splitters: splitters.map((s) => report.splitterView(s, status.apis))})
    }
    for (const runtime of runtimes) {
      this.say(color.bold(runtime.url))
      if (runtime.splitters.length === 0) this.say(color.dim('  serves no TrafficSplitter'))
      for (const view of runtime.splitters) this.say(report.renderSplitterText(view))
    }
    return {runtimes}
  }
}
