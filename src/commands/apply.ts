import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {color, warn} from '../cli/ui.js'
import {runtimeDefaults} from '../runtime/defaults.js'

export interface ApplyResult {
  url: string
  project: string
  /** What the runtime changed, one sentence each (empty when nothing differed). */
  changes: string[]
}

export default class Apply extends BaseCommand {
  static override summary = 'Update a running `mlserve run` to the project\'s mlserve.yaml, without a restart.'

  static override description =
    'Loads and checks the project as `mlserve run` does, plans it the same way (with the driver the runtime runs its replicas under), and hands the plan to the runtime that serves it, which starts the APIs that are new or changed, moves their endpoints over once they are ready, stops the APIs no longer in the file, and puts TrafficSplitter changes in force. Requests in flight finish where they started. This is what `cortex deploy` does to a running API. The runtime is the one on this machine started from the same config file, or the one at --url.'

  static override examples = ['<%= config.bin %> apply', '<%= config.bin %> apply my-model', '<%= config.bin %> apply . --url http://127.0.0.1:8888 --json']

  static override args = {
    dir: Args.string({description: 'The project directory or its mlserve.yaml.', default: '.'}),
  }

  static override flags = {
    url: Flags.string({description: 'The gateway of the runtime to update, such as http://127.0.0.1:8888; by default the runtime on this machine started from the same config file.'}),
  }

  async run(): Promise<ApplyResult> {
    const {args, flags} = await this.parse(Apply)
    const [{loadProject}, {planRuntime}, client] = await Promise.all([import('../config/index.js'), import('../runtime/index.js'), import('../client/traffic.js')])
    const project = await loadProject(args.dir)
    for (const warning of project.warnings) if (!this.jsonEnabled()) warn(`${warning.file}:${warning.line}:${warning.column} ${warning.message}`)
    const target = client.findProjectTarget(project.file, flags.url)
    // The address the runtime bound, as its record says (--url may name it otherwise, such as localhost).
    const gateway = new URL(target.record?.url ?? target.url)
    // The same plan `mlserve run` makes with its defaults; the runtime keeps the limits its own flags set.
    const plan = await planRuntime(project, {
      host: gateway.hostname.replace(/^\[|\]$/g, ''),
      port: Number(gateway.port || 80),
      timeoutMs: runtimeDefaults.timeoutMs,
      maxBodyBytes: runtimeDefaults.maxBodyBytes,
      readinessTimeoutMs: runtimeDefaults.readinessTimeoutMs,
      retryAfterSeconds: runtimeDefaults.retryAfterSeconds,
      accessLog: runtimeDefaults.accessLog,
      announce: false,
      driver: client.driverOf(target.record),
      log: (line) => this.say(color.dim(line)),
    })
    this.say(`Applying ${project.file} to ${target.url} …`)
    // New replicas must load and report ready before the runtime answers.
    const {changes} = await client.applyPlan(target, plan, {timeoutMs: runtimeDefaults.readinessTimeoutMs + 60_000})
    if (changes.length === 0) this.say('Nothing to change: the runtime already serves this config.')
    for (const change of changes) this.say(`  ${change}`)
    return {url: target.url, project: project.file, changes}
  }
}
