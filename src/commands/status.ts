import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {color} from '../cli/ui.js'
import {plural} from '../plural.js'
import {formatClock} from '../runtime/autoscale/recommend.js'
import type {RuntimeStatus} from '../runtime/index.js'
import type {SplitterStatus} from '../runtime/gateway/traffic-types.js'

export interface StatusResult {
  runtimes: RuntimeStatus[]
}

export default class Status extends BaseCommand {
  static override summary = 'Show the APIs and replicas of running runtimes.'

  static override description =
    'Lists every `mlserve run` on this machine (or the gateway at --url): each API with its endpoint, and each replica with its readiness, requests running and queued against its slots (processes × threads) and max_replica_concurrency, requests shed, and restarts; each API\'s autoscaler: its current and desired replica counts and why (the averaged in-flight count over the target, and what held or limited the step); then each TrafficSplitter with its endpoint, weights and shadow (`mlserve traffic show` adds each API\'s live figures).'

  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --url http://127.0.0.1:8888 --json']

  static override flags = {
    url: Flags.string({description: 'The gateway to ask, such as http://127.0.0.1:8888; by default every runtime started on this machine.'}),
  }

  async run(): Promise<StatusResult> {
    const {flags} = await this.parse(Status)
    const [{fetchStatus, runtimeUrls}, {default: Table}] = await Promise.all([import('../client/runtimes.js'), import('cli-table3')])
    const runtimes = await Promise.all(runtimeUrls(flags.url).map((url) => fetchStatus(url)))
    for (const runtime of runtimes) {
      this.say(`${color.bold(runtime.url)}  ${color.dim(`pid ${runtime.pid} · ${runtime.project}`)}`)
      const table = new Table({
        head: ['api', 'endpoint', 'replica', 'ready', 'running/slots', 'queued', 'max conc.', 'shed', 'restarts', 'gpus'],
        style: {head: [], border: []},
      })
      for (const api of runtime.apis) {
        for (const replica of api.replicas) {
          table.push([
            api.name,
            api.endpoint,
            replica.id,
            replica.ready ? color.green('yes') : color.red('no'),
            `${replica.running}/${replica.slots}`,
            replica.queued,
            replica.maxReplicaConcurrency,
            replica.shed,
            replica.restarts,
            replica.gpus.join(',') || '-',
          ])
        }
      }
      this.say(table.toString())
      for (const api of runtime.apis) {
        // Runtimes started by an mlserve without an autoscaler answer none.
        const scaling = api.autoscaler
        if (!scaling) continue
        const counts = scaling.enabled ? `current ${scaling.current}, desired ${scaling.desired} (min ${scaling.min}, max ${scaling.max})` : plural(scaling.current, 'replica')
        // The reason is the last tick's, up to 10 s old: say when it was decided (runtimes before decidedAt answer none).
        const asOf = scaling.decidedAt ? `, as of ${formatClock(Date.parse(scaling.decidedAt))}` : ''
        this.say(`${color.bold(api.name)} autoscaling: ${counts}${asOf}: ${scaling.reason}`)
      }
      // Runtimes started by an mlserve without traffic policies answer no splitters.
      const splitters = (runtime as RuntimeStatus & {splitters?: SplitterStatus[]}).splitters ?? []
      if (splitters.length > 0) {
        const split = new Table({head: ['splitter', 'endpoint', 'weights', 'shadow'], style: {head: [], border: []}})
        for (const splitter of splitters) {
          split.push([
            splitter.name,
            splitter.endpoint,
            Object.entries(splitter.weights).map(([api, weight]) => `${api} ${weight}`).join(' · '),
            splitter.shadow ? `${splitter.shadow.api} ${splitter.shadow.percent}%` : '-',
          ])
        }
        this.say(split.toString())
      }
    }
    return {runtimes}
  }
}
