import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import * as flag from '../cli/flags.js'
import {color} from '../cli/ui.js'
import type {SwarmDeployResult, SwarmStatus} from '../swarm/index.js'
import type {KubernetesDeployResult} from '../kubernetes/index.js'

export type DeployCommandResult = SwarmDeployResult | SwarmStatus | (KubernetesDeployResult & {engine: 'kubernetes'; env: string})

export default class Deploy extends BaseCommand {
  static override summary = "Deploy the project to an environment's cluster: Docker Swarm live, or Kubernetes manifests."

  static override description = `On a Swarm environment (\`mlserve env add NAME --engine swarm\`), each API runs as a Swarm service from its newest built image (pushed to the environment's registry and pinned by digest when it has one, else the engine's local image), with its processes, threads, batching, compute limits and reservations, health check, start-first rolling updates that roll back on a failure, and endpoint_mode dnsrr; the mlserve gateway runs as its own service on the environment's gateway port (published in host mode), with the admission limits and the TrafficSplitters of mlserve.yaml; the autoscaler runs as a service that sets each API's replicas from the gateway's in-flight counts. Deploy waits until every service runs its new version and the gateway is ready, then prints the gateway's URL (--json: url) and keeps a record (URL and token) that \`traffic --env\`, \`predict --env\`, \`deploy --status\` and \`delete\` use. Deploying again updates what changed: new code is a rolling update with no failed request, and an update whose new tasks fail or stay unhealthy is rolled back by Swarm, which deploy reports (MLS_DEPLOY_ROLLED_BACK).

On a Kubernetes environment, deploy writes validated manifests (--dry-run, to --out DIR or stdout), or applies them where the environment's kubeconfig reaches a cluster. See docs/deploy.md.`

  static override examples = [
    {description: 'Deploy the project in this directory to the default environment.', command: '<%= config.bin %> deploy'},
    {description: 'To a named environment; the URL as JSON.', command: '<%= config.bin %> deploy --env prod --json'},
    {description: 'The services and their tasks.', command: '<%= config.bin %> deploy --env prod --status'},
    {description: 'Kubernetes manifests, validated, written to a directory.', command: '<%= config.bin %> deploy --env k8s --dry-run --out manifests/'},
  ]

  static override args = {
    dir: Args.string({description: 'The project directory (or its mlserve.yaml).', default: '.'}),
  }

  static override flags = {
    env: flag.envFlag,
    status: Flags.boolean({description: "Show the deploy's services, their tasks (desired and current state, errors), the gateway URL and the autoscaler's last decisions; change nothing.", default: false}),
    timeout: flag.duration({description: 'How long to wait for every service to run its new version and the gateway to be ready.', default: '5m'}),
    'health-start-period': flag.duration({description: "How long a new replica may take to load before failing health checks count (Swarm's start period); a replica still unhealthy after it fails the update, which rolls back.", default: '120s'}),
    'gateway-base-image': Flags.string({description: 'The base image of the gateway image (a glibc Debian or Ubuntu image the engine has); default $MLSERVE_GATEWAY_BASE_IMAGE, else debian:bookworm-slim.'}),
    'gateway-image': Flags.string({description: 'Run this gateway image instead of building one (an image mlserve built earlier, such as mlserve-gateway:0.1.0-…); default $MLSERVE_GATEWAY_IMAGE, else built for this mlserve.', exclusive: ['gateway-base-image']}),
    'dry-run': Flags.boolean({description: 'Kubernetes: write the validated manifests instead of applying them.', default: false}),
    out: Flags.string({description: 'Kubernetes, with --dry-run: the directory for one YAML file per object (default: stdout).', dependsOn: ['dry-run']}),
  }

  async run(): Promise<DeployCommandResult> {
    const {args, flags} = await this.parse(Deploy)
    const [{resolveEnvironment}, {loadProject}] = await Promise.all([import('../environments/index.js'), import('../config/index.js')])
    const environment = resolveEnvironment(flags.env)
    const project = await loadProject(args.dir)
    const log = (line: string): void => this.say(color.dim(line))

    if (environment.engine === 'kubernetes') {
      if (flags.status) {
        const {mlserveError} = await import('../errors.js')
        const where = `${environment.context ? `--context ${environment.context} ` : ''}-n ${environment.namespace}`
        throw mlserveError('MLS_FLAG_CONFLICT', {command: 'deploy', reasons: [`--status reads a Swarm deploy, and environment "${environment.name}" is Kubernetes: its objects carry the label app.kubernetes.io/managed-by=mlserve, so \`kubectl get deploy,pods,scaledobjects,httproutes ${where} -l app.kubernetes.io/managed-by=mlserve\` shows them`]})
      }
      const {deployKubernetes} = await import('../kubernetes/index.js')
      const result = await deployKubernetes(project, environment, {dryRun: flags['dry-run'], out: flags.out, log, gatewayImage: flags['gateway-image'] ?? (process.env.MLSERVE_GATEWAY_IMAGE || undefined)})
      if (result.yaml !== undefined && !this.jsonEnabled()) process.stdout.write(result.yaml)
      for (const object of result.objects) this.say(`${object.kind}/${object.name}${object.file ? ` → ${object.file}` : ''}${object.status ? `: ${object.status}` : ''}`)
      return {...result, engine: 'kubernetes', env: environment.name}
    }

    const swarm = await import('../swarm/index.js')
    if (flags.status) {
      const status = await swarm.swarmStatus(environment, swarm.projectName(project))
      this.renderStatus(status)
      return status
    }
    if (flags['dry-run']) {
      const {mlserveError} = await import('../errors.js')
      throw mlserveError('MLS_FLAG_CONFLICT', {command: 'deploy', reasons: [`--dry-run writes Kubernetes manifests; environment "${environment.name}" is a Swarm, which deploy updates live`]})
    }
    const result = await swarm.deploySwarm(project, environment, {
      log,
      timeoutMs: flags.timeout,
      healthStartPeriodMs: flags['health-start-period'],
      gatewayBaseImage: flags['gateway-base-image'] ?? process.env.MLSERVE_GATEWAY_BASE_IMAGE ?? undefined,
      gatewayImage: flags['gateway-image'] ?? (process.env.MLSERVE_GATEWAY_IMAGE || undefined),
    })
    for (const service of result.services) {
      const what = service.role === 'api' ? `API ${service.api}` : service.role
      this.say(`${color.green('✓')} ${service.name} (${what}): ${service.action}, ${service.replicas} replica${service.replicas === 1 ? '' : 's'}${service.placement && service.placement !== 'any' ? `, on ${service.placement} nodes` : ''}`)
    }
    this.say(`Deployed ${result.project} to ${result.env} in ${(result.durationMs / 1000).toFixed(1)}s.`)
    this.say(`Gateway: ${color.bold(result.url)}`)
    return result
  }

  private renderStatus(status: SwarmStatus): void {
    this.say(`${status.project} on ${status.env}${status.url ? `: gateway ${color.bold(status.url)}` : ' (no deploy record on this machine)'}${status.deployedAt ? color.dim(` · deployed ${status.deployedAt}`) : ''}`)
    if (status.services.length === 0) this.say(color.yellow('No services of this project in this environment.'))
    for (const service of status.services) {
      const update = service.update ? ` · update ${service.update.state}${service.update.message ? ` (${service.update.message})` : ''}` : ''
      this.say(`${color.bold(service.name)} ${service.role}${service.api ? ` ${service.api}` : ''}: ${service.replicas.running}/${service.replicas.wanted} running${service.placement && service.placement !== 'any' ? ` on ${service.placement} nodes` : ''}${update}`)
      for (const task of service.tasks) this.say(`  ${task.state === 'running' ? color.green(task.text) : task.error ? color.red(task.text) : task.text}`)
    }
    if (status.autoscaler.length > 0) {
      this.say('Autoscaler (last lines of its log):')
      for (const line of status.autoscaler) this.say(color.dim(`  ${line}`))
    }
  }
}
