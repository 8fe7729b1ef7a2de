import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import * as flag from '../../cli/flags.js'
import {color} from '../../cli/ui.js'
import {mlserveError} from '../../errors.js'
import {addEnvironment, DEFAULT_GATEWAY_PORT, DEFAULT_NAMESPACE, describeEnvironment, isSwarmLabelKey, listEnvironments, SWARM_LABEL_KEY_RULE, useEnvironment, type Environment} from '../../environments/index.js'

export interface EnvAddResult {
  /** The environments file written. */
  file: string
  environment: Environment
  /** Whether an environment of that name was replaced (--force). */
  replaced: boolean
  /** Whether it is now the default (--use). */
  current: boolean
}

export default class EnvAdd extends BaseCommand {
  static override summary = 'Add an environment: where push and deploy send APIs (a Swarm engine or a Kubernetes context, and a registry).'

  static override description = `Stores the environment in environments.yaml in your config directory ($MLSERVE_CONFIG_DIR, else $XDG_CONFIG_HOME/mlserve, else ~/.config/mlserve), with mode 0600; comments you add to the file are kept. --registry is where \`mlserve push\` sends images (HOST[:PORT][/NAMESPACE]); without one, a Swarm deploy runs the local image (one node only). For swarm, --docker-host is the engine (default: the local one) and --gateway-port the port the gateway publishes on each node. For kubernetes, --kubeconfig and --context pick the cluster and --namespace the namespace. Select an environment with --env, $MLSERVE_ENV, or \`mlserve env use\`. See docs/deploy.md.`

  static override examples = [
    {description: 'A Swarm on this machine, pushing to a local registry.', command: '<%= config.bin %> env add local --engine swarm --registry 127.0.0.1:5000 --use'},
    {description: 'A Kubernetes cluster from a kubeconfig context.', command: '<%= config.bin %> env add prod --engine kubernetes --registry registry.example.com/ml --context prod-eu --namespace ml'},
    {description: 'Spot nodes carry node.kind=spot; on-demand nodes are the fallback.', command: '<%= config.bin %> env add batch --engine swarm --spot-label node.kind=spot'},
  ]

  static override args = {
    name: Args.string({description: 'The environment\'s name: lowercase letters, digits and - . _, such as prod.', required: true}),
  }

  static override flags = {
    engine: Flags.option({options: ['swarm', 'kubernetes'] as const, description: 'The engine that runs the APIs: swarm (Docker Swarm) or kubernetes.', required: true})(),
    registry: flag.registry({description: 'Where images are pushed, HOST[:PORT][/NAMESPACE] without a scheme, such as 127.0.0.1:5000 or registry.example.com/team.'}),
    'docker-host': flag.dockerHost({description: 'swarm: the Docker endpoint of a manager, as DOCKER_HOST takes it; by default the local engine.'}),
    'gateway-port': flag.publishedPort({description: `swarm: the port the gateway publishes on each node (host mode); default ${DEFAULT_GATEWAY_PORT}.`}),
    kubeconfig: Flags.string({description: 'kubernetes: the kubeconfig file; by default $KUBECONFIG, else ~/.kube/config.'}),
    context: Flags.string({description: 'kubernetes: the context in the kubeconfig; by default its current-context.'}),
    namespace: flag.namespace({description: `kubernetes: the namespace; default ${DEFAULT_NAMESPACE}.`}),
    'spot-label': flag.nodeLabel({description: 'The node label KEY=VALUE that marks spot nodes: APIs prefer them and fall back to the others (on-demand).'}),
    force: Flags.boolean({description: 'Replace an environment of the same name.', default: false}),
    use: Flags.boolean({description: 'Also make it the default, as `mlserve env use NAME` does.', default: false}),
  }

  async run(): Promise<EnvAddResult> {
    const {args, flags} = await this.parse(EnvAdd)
    const engine = flags.engine
    const misplaced = engine === 'swarm' ? (['kubeconfig', 'context', 'namespace'] as const) : (['docker-host', 'gateway-port'] as const)
    const reasons = misplaced.filter((name) => flags[name] !== undefined).map((name) => `--${name} applies to ${engine === 'swarm' ? 'kubernetes' : 'swarm'} environments, not --engine ${engine}`)
    if (reasons.length > 0) throw mlserveError('MLS_FLAG_CONFLICT', {command: 'env add', reasons})
    const spot = flags['spot-label']
    if (spot && engine === 'swarm' && !isSwarmLabelKey(spot.key)) {
      throw mlserveError('MLS_INVALID_FLAG', {flag: '--spot-label', value: `${spot.key}=${spot.value}`, expected: SWARM_LABEL_KEY_RULE})
    }
    const environment: Environment = {
      name: args.name,
      engine,
      registry: flags.registry ?? null,
      dockerHost: flags['docker-host'] ?? null,
      kubeconfig: flags.kubeconfig ?? null,
      context: flags.context ?? null,
      namespace: flags.namespace ?? DEFAULT_NAMESPACE,
      gatewayPort: flags['gateway-port'] ?? DEFAULT_GATEWAY_PORT,
      spotLabel: flags['spot-label'] ?? null,
    }
    const replaced = listEnvironments().environments.some((e) => e.name === environment.name)
    const file = addEnvironment(environment, {replace: flags.force})
    if (flags.use) useEnvironment(environment.name)
    this.say(`${replaced ? 'Replaced' : 'Added'} environment ${color.bold(environment.name)}: ${describeEnvironment(environment)}${flags.use ? ', now the default' : ''}.`)
    this.say(color.dim(`Stored in ${file}.`))
    return {file, environment, replaced, current: flags.use}
  }
}
