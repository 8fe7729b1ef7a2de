import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {onInterrupt} from '../cli/interrupt.js'

export interface AutoscalerResult {
  stoppedBy: string
  apis: Array<{api: string; service: string; current: number | null; desired: number | null; events: {up: number; down: number}}>
}

export default class Autoscaler extends BaseCommand {
  // What a Swarm deployment runs in its autoscaler service; users run `mlserve deploy`, not this.
  static override hidden = true

  static override summary = "Scale a Swarm deployment's API services on the in-flight requests their gateways report."

  static override description =
    "Reads the autoscaler's config (JSON, written by `mlserve deploy` into a Swarm config). Every second it finds the gateway's tasks (tasks.<gateway service>), reads each one's /metrics and sums mlserve_api_in_flight{api} across them; every 10 s it runs Cortex's algorithm per API (the window, target_replica_concurrency, the stabilization periods, the step factors) and sets the API service's replicas within min_replicas..max_replicas. Needs the Docker socket of a Swarm manager. Logs JSON lines to stdout; SIGTERM stops it, exit 0."

  static override examples = ['<%= config.bin %> autoscaler --config /etc/mlserve/autoscaler.json']

  static override flags = {
    config: Flags.string({description: "The autoscaler's config file (JSON).", required: true}),
  }

  async run(): Promise<AutoscalerResult> {
    const {flags} = await this.parse(Autoscaler)
    const [{readSwarmAutoscalerConfig}, {SwarmAutoscaler}, {connectDocker}] = await Promise.all([
      import('../swarm/autoscaler-config.js'),
      import('../swarm/autoscaler.js'),
      import('../docker/index.js'),
    ])
    const config = readSwarmAutoscalerConfig(flags.config)
    const docker = await connectDocker()
    const log = (line: string) => process.stdout.write(`${line}\n`)
    const autoscaler = new SwarmAutoscaler(config, {docker, log})
    const interrupts = onInterrupt({graceful: () => {}, immediate: () => {}, say: () => {}})
    autoscaler.start()
    const signal = await interrupts.first
    // Stopping waits only for a scrape or an update under way (a second at most, or the engine's answer).
    await autoscaler.stop()
    interrupts.dispose()
    return {stoppedBy: signal, apis: autoscaler.status().map(({api, service, current, desired, events}) => ({api, service, current, desired, events}))}
  }
}
