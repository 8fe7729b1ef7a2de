import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {color} from '../../cli/ui.js'
import {removeEnvironment} from '../../environments/index.js'

export interface EnvRemoveResult {
  file: string
  removed: string
  /** Whether it was the default; there is none now. */
  wasCurrent: boolean
}

export default class EnvRemove extends BaseCommand {
  static override summary = 'Remove an environment from environments.yaml.'

  static override description = 'Removes only the entry: nothing deployed to it is touched (`mlserve delete --env NAME` removes a deployment, so run it first), and registry logins stay.'

  static override examples = ['<%= config.bin %> env remove staging']

  static override args = {
    name: Args.string({description: 'An environment `mlserve env list` shows.', required: true}),
  }

  async run(): Promise<EnvRemoveResult> {
    const {args} = await this.parse(EnvRemove)
    const {file, wasCurrent} = removeEnvironment(args.name)
    this.say(`Removed environment ${color.bold(args.name)}${wasCurrent ? '; it was the default, and there is none now (`mlserve env use NAME` chooses one)' : ''}.`)
    return {file, removed: args.name, wasCurrent}
  }
}
