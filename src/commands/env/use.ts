import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {color} from '../../cli/ui.js'
import {useEnvironment} from '../../environments/index.js'

export interface EnvUseResult {
  file: string
  current: string
}

export default class EnvUse extends BaseCommand {
  static override summary = 'Choose the environment push and deploy use without --env.'

  static override description = 'Writes the choice to environments.yaml. $MLSERVE_ENV, when set, still takes precedence, and --env over both.'

  static override examples = ['<%= config.bin %> env use staging']

  static override args = {
    name: Args.string({description: 'An environment `mlserve env list` shows.', required: true}),
  }

  async run(): Promise<EnvUseResult> {
    const {args} = await this.parse(EnvUse)
    const file = useEnvironment(args.name)
    this.say(`Push and deploy now use ${color.bold(args.name)} by default.`)
    if (process.env.MLSERVE_ENV && process.env.MLSERVE_ENV !== args.name) this.note(`MLSERVE_ENV is set to "${process.env.MLSERVE_ENV}" in this shell, and takes precedence.`)
    return {file, current: args.name}
  }
}
