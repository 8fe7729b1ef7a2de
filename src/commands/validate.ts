import {Args} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {color} from '../cli/ui.js'
import {displayPath, formatWarning, loadProject, type ApiKind, type ConfigWarning} from '../config/index.js'

export interface ValidateResult {
  /** The config file that was validated (absolute path). */
  file: string
  valid: true
  apis: Array<{name: string; kind: ApiKind}>
  warnings: ConfigWarning[]
}

export default class Validate extends BaseCommand {
  static override summary = 'Check mlserve.yaml (or a Cortex cortex.yaml) and report every problem with its line and column.'

  static override description = `Reads the config file, checks every field against the schema (types, ranges, durations such as 100ms, quantities such as 200m or 2Gi, DNS-1123 API names) and across fields (min_replicas ≤ max_replicas, target_replica_concurrency ≤ max_replica_concurrency, TrafficSplitter weights adding up to 100), checks what a run needs (a predictor type mlserve serves, python or command, and a predictor file that exists), and prints each error as file:line:column with the field, what was expected and what was found. Misspelt keys get a "did you mean".

Cortex fields that mlserve accepts but does not implement (monitoring, predictor.models, handler.dependencies, …) are reported as warnings, once each, with their location. Exits 0 when the file is valid (warnings included) and 2 when it has errors. docs/config.md describes every field; \`mlserve schema\` prints the JSON Schema for editor support.`

  static override examples = [
    {description: 'Validate the mlserve.yaml (or cortex.yaml) in the current directory.', command: '<%= config.bin %> validate'},
    {description: 'Validate a project directory.', command: '<%= config.bin %> validate examples/iris'},
    {description: 'Validate a Cortex config file as it is.', command: '<%= config.bin %> validate cortex.yaml'},
    {description: 'Machine-readable result (errors too print as JSON on stdout).', command: '<%= config.bin %> validate --json'},
  ]

  static override args = {
    file: Args.string({
      description: 'The config file, or a project directory in which mlserve.yaml (then cortex.yaml) is looked for.',
      default: '.',
    }),
  }

  async run(): Promise<ValidateResult> {
    const {args} = await this.parse(Validate)
    const project = await loadProject(args.file, {runnable: true})
    for (const warning of project.warnings) this.note(formatWarning(warning))
    const apis = project.apis.map((api) => ({name: api.name, kind: api.kind}))
    const count = `${apis.length} API${apis.length === 1 ? '' : 's'}`
    this.say(`${color.green('✓')} ${displayPath(project.file)}: ${count} valid (${apis.map((a) => a.name).join(', ')})`)
    return {file: project.file, valid: true, apis, warnings: project.warnings}
  }
}
