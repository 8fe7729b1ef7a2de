import {BaseCommand} from '../../cli/base-command.js'
import {color} from '../../cli/ui.js'
import {describeEnvironment, environmentsFile, listEnvironments, type Environment} from '../../environments/index.js'

export interface EnvListResult {
  file: string
  /** The default `mlserve env use` chose, or null. */
  current: string | null
  /** What push and deploy would use without --env: $MLSERVE_ENV when set, else `current`. */
  active: {name: string; source: 'MLSERVE_ENV' | 'mlserve env use'} | null
  environments: Environment[]
}

export default class EnvList extends BaseCommand {
  static override summary = 'List the environments, and which one push and deploy use without --env.'

  static override description = 'Reads environments.yaml from your config directory ($MLSERVE_CONFIG_DIR, else $XDG_CONFIG_HOME/mlserve, else ~/.config/mlserve). The active environment is $MLSERVE_ENV when set, else the one `mlserve env use` chose; --env on push and deploy overrides both.'

  static override examples = ['<%= config.bin %> env list', '<%= config.bin %> env list --json']

  async run(): Promise<EnvListResult> {
    await this.parse(EnvList)
    const file = environmentsFile()
    const {current, environments} = listEnvironments()
    const fromEnv = process.env.MLSERVE_ENV
    const active = fromEnv ? {name: fromEnv, source: 'MLSERVE_ENV' as const} : current ? {name: current, source: 'mlserve env use' as const} : null
    if (environments.length === 0) {
      this.say(`No environments yet (${file}). Add one with \`mlserve env add NAME --engine swarm|kubernetes\`.`)
    }
    const width = Math.max(0, ...environments.map((e) => e.name.length))
    for (const environment of environments) {
      const mark = active?.name === environment.name ? color.green('*') : ' '
      this.say(`${mark} ${color.bold(environment.name.padEnd(width))}  ${describeEnvironment(environment)}`)
    }
    if (active && environments.some((e) => e.name === active.name)) this.say(color.dim(`* active (${active.source === 'MLSERVE_ENV' ? 'from MLSERVE_ENV' : 'chosen by mlserve env use'})`))
    else if (active) this.note(`MLSERVE_ENV names "${active.name}", which is not an environment: push and deploy will refuse it.`)
    return {file, current, active, environments}
  }
}
