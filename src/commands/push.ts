import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {ciThresholdFlags, ciThresholds} from '../cli/ci-flags.js'
import * as flag from '../cli/flags.js'
import {color} from '../cli/ui.js'
import {mlserveError} from '../errors.js'
import {plural} from '../plural.js'
import type {PushResult} from '../registry/index.js'

export interface PushCommandResult {
  /** The environment pushed for, or null with --registry. */
  environment: string | null
  registry: string
  /** Where the credentials came from, or null: anonymous. */
  credentials: 'environment' | 'login' | 'docker-config' | null
  pushes: Array<PushResult & {api: string}>
}

export default class Push extends BaseCommand {
  static override summary = "Push an API's newest built image to the environment's registry, layer by layer."

  static override description = `Finds the newest image \`mlserve build\` made for the API (tagged API:VERSION, VERSION from git), tags it REGISTRY/API:VERSION for the environment's registry (--env, else $MLSERVE_ENV, else \`mlserve env use\`; or --registry), and pushes it through the local Docker engine. Progress is shown per layer; a transient failure (the registry down or cutting the connection, a 5xx) is retried up to 4 attempts in all, 1 s, 2 s and 4 s apart. It ends with the digest (deploy pins REGISTRY/API@sha256:…), and the bytes sent against the bytes the registry already had: after a code-only change only the small code layer goes out.

Without API, every API of the project at --dir is pushed. Credentials: MLSERVE_REGISTRY_USERNAME and MLSERVE_REGISTRY_PASSWORD, else \`mlserve login\`, else Docker's config.json (plain auths entries). With --ci, the image is first checked as \`mlserve inspect --ci\` does, and one that fails is not pushed. See docs/deploy.md.`

  static override examples = [
    {description: "Push the project's APIs to the default environment's registry.", command: '<%= config.bin %> push'},
    {description: 'One API, to a named environment.', command: '<%= config.bin %> push iris --env staging'},
    {description: 'In CI: refuse an image that wastes bytes; machine-readable.', command: '<%= config.bin %> push iris --env prod --ci --json'},
  ]

  static override args = {
    api: Args.string({description: 'The API whose image to push; by default every API of the project at --dir.'}),
  }

  static override flags = {
    env: flag.envFlag,
    registry: flag.registry({description: 'Push to this registry (HOST[:PORT][/NAMESPACE]) instead of an environment\'s.', exclusive: ['env']}),
    dir: Flags.string({description: 'The project directory (or its mlserve.yaml), read when no API is given.', default: '.'}),
    ci: Flags.boolean({description: 'Check each image first as `mlserve inspect --ci` does, and push none if one fails.', default: false}),
    ...ciThresholdFlags,
  }

  async run(): Promise<PushCommandResult> {
    const {args, flags} = await this.parse(Push)
    const [{connectDocker, newestImageOf}, {resolveEnvironment}, registryPart, {PushProgressView}, {formatBytes}] = await Promise.all([
      import('../docker/index.js'),
      import('../environments/index.js'),
      import('../registry/index.js'),
      import('../cli/push-progress.js'),
      import('../image/render.js'),
    ])
    let environment: string | null = null
    let registry = flags.registry
    if (registry === undefined) {
      const env = resolveEnvironment(flags.env)
      environment = env.name
      if (env.registry === null) throw mlserveError('MLS_PUSH_NO_REGISTRY', {env: env.name})
      registry = env.registry
    }
    const apis = args.api ? [args.api] : await projectApis(flags.dir)
    const docker = await connectDocker()
    // Every image first: a missing build or a failed check stops the command before anything leaves.
    const images: Array<{api: string; image: string; version: string}> = []
    for (const api of apis) {
      const image = await newestImageOf(docker, api)
      if (image === null) throw mlserveError('MLS_PUSH_NO_IMAGE', {api})
      images.push({api, image, version: image.slice(api.length + 1)})
    }
    if (flags.ci) {
      const {inspectImage} = await import('../image/index.js')
      const thresholds = ciThresholds(flags, true)
      for (const {image} of images) {
        const report = await inspectImage(docker, image, thresholds)
        const failed = (report.ci?.rules ?? []).filter((rule) => !rule.pass)
        for (const rule of report.ci?.rules ?? []) this.say(`${rule.pass ? color.green('pass') : color.red('FAIL')} ${image} ${rule.rule}: ${rule.message}`)
        if (failed.length > 0) throw mlserveError('MLS_PUSH_CHECKS_FAILED', {image, count: failed.length}, {details: failed.map((rule) => `${rule.rule}: ${rule.message}`)})
      }
    }
    const found = registryPart.findRegistryAuth(registry)
    const pushes: PushCommandResult['pushes'] = []
    for (const {api, image, version} of images) {
      this.say(`Pushing ${color.bold(image)} to ${registry}/${api}:${version} ${color.dim(found ? `(as ${found.auth.username}, from ${registryPart.SOURCE_NAMES[found.source]})` : '(anonymous: no credentials found)')}`)
      const view = new PushProgressView((text) => this.jsonEnabled() || process.stderr.write(text), Boolean(process.stderr.isTTY))
      const result = await registryPart.pushImage({docker, image, registry, repo: api, tag: version, auth: found?.auth ?? null, onProgress: (event) => view.update(event)})
      view.flush()
      const sent = result.layers.filter((l) => l.status === 'pushed').length
      const present = result.layers.length - sent
      this.say(`Pushed ${color.bold(result.reference)}${result.attempts > 1 ? ` after ${plural(result.attempts, 'attempt')}` : ''}`)
      this.say(`  digest  ${result.digest}`)
      this.say(
        `  sent ${formatBytes(result.bytesSent)} (${plural(sent, 'layer')}); the registry already had ${formatBytes(result.bytesPresent)} (${plural(present, 'layer')})${result.sizes === 'manifest' ? '' : color.dim(' — sizes from the engine (uncompressed): the manifest could not be read')}`,
      )
      pushes.push({...result, api})
    }
    return {environment, registry, credentials: found?.source ?? null, pushes}
  }
}

/** The APIs of the project at `dir` that have images (a TrafficSplitter has none). */
async function projectApis(dir: string): Promise<string[]> {
  const {loadProject} = await import('../config/index.js')
  const project = await loadProject(dir)
  return project.apis.filter((api) => api.kind !== 'TrafficSplitter').map((api) => api.name)
}
