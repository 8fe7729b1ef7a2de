import {Args} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import * as flag from '../cli/flags.js'
import {color} from '../cli/ui.js'
import type {SwarmDeleteResult} from '../swarm/index.js'

export default class Delete extends BaseCommand {
  static override summary = "Remove the project's deploy from an environment: every service, config, secret and network it made, and nothing else."

  static override description = `On Swarm: removes the services, configs, secrets and the network that carry the deploy labels of this project (its directory's name) and the environment (io.mlserve.deploy.project, io.mlserve.deploy.env), waits until their containers are gone (each drains its requests first), then removes the deploy record. Objects of other projects or environments, and anything mlserve did not make, are left alone. Images stay. See docs/deploy.md.`

  static override examples = [
    {description: 'Remove the deploy of the project in this directory from environment prod.', command: '<%= config.bin %> delete --env prod'},
  ]

  static override args = {
    dir: Args.string({description: 'The project directory (or its mlserve.yaml); its name is the project name on the cluster.', default: '.'}),
  }

  static override flags = {
    env: flag.envFlag,
    timeout: flag.duration({description: 'How long to wait for the containers to be gone.', default: '2m'}),
  }

  async run(): Promise<SwarmDeleteResult> {
    const {args, flags} = await this.parse(Delete)
    const [{resolveEnvironment}, {loadProject}, {mlserveError}] = await Promise.all([import('../environments/index.js'), import('../config/index.js'), import('../errors.js')])
    const environment = resolveEnvironment(flags.env)
    if (environment.engine !== 'swarm') {
      throw mlserveError('MLS_FLAG_CONFLICT', {command: 'delete', reasons: [`environment "${environment.name}" is Kubernetes: delete its objects with \`kubectl delete -f\` on the manifests of \`mlserve deploy --dry-run --out DIR\``]})
    }
    const swarm = await import('../swarm/index.js')
    const project = swarm.projectName(await loadProject(args.dir))
    const result = await swarm.deleteSwarm(environment, project, {log: (line) => this.say(color.dim(line)), timeoutMs: flags.timeout})
    const {removed} = result
    const count = removed.services.length + removed.configs.length + removed.secrets.length + removed.networks.length
    if (count === 0) this.say(`Nothing of ${project} was deployed to ${environment.name}.`)
    else {
      for (const [kind, names] of Object.entries(removed)) if (names.length > 0) this.say(`${color.green('✓')} Removed ${kind}: ${names.join(', ')}`)
      this.say(`Deleted ${project} from ${environment.name} in ${(result.durationMs / 1000).toFixed(1)}s.`)
    }
    return result
  }
}
