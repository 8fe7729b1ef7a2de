import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {ciThresholdFlags, ciThresholds} from '../cli/ci-flags.js'
import {color} from '../cli/ui.js'
import {loadProject} from '../config/index.js'
import {assertCi, formatBytes, formatFinding, planBuild, renderInspect, runBuild, type BuildEvent, type BuildResult, type LintFinding} from '../image/index.js'

export interface DockerfileOnlyResult {
  api: string
  dockerfileSource: string
  dockerfile: string
  lint: LintFinding[]
  /** Files of the project that would go in the context, relative to it. */
  files: string[]
  notes: string[]
}

export default class Build extends BaseCommand {
  static override summary = "Build an API's container image in slim, ordered layers on the local Docker engine, and check it."

  static override description = `Generates a Dockerfile from the API's build section, in layers ordered from the least to the most often changed (base image, a non-root user, system packages, the requirements file alone then pip install, the model directory, mlserve's harness, the source code, then the config), sends the build context to the Docker engine and shows each step. A code edit rebuilds only the code layer and those after it. build.dockerfile uses your own Dockerfile instead; it is linted too.

The context holds only what the image needs: .dockerignore, build.include and build.exclude apply, on top of defaults that leave out .git, virtualenvs, caches, tests, payloads and .mlserve. Its files are packed in sorted order with fixed times, owners and modes, so the same inputs give the same layers. Files that look like secrets (.env*, *.pem, *.key, id_rsa, credentials.json, .aws/, .ssh/ …) refuse the build, as do secret-looking ENV or ARG names with values.

The image is tagged NAME:VERSION: the API's name, and the version from \`git describe --always --dirty\` (or the context's digest outside git); --tag overrides either. After the build, the image is inspected as by \`mlserve inspect\`. Lint findings (hadolint rule IDs) print as warnings; with --ci they, and the efficiency thresholds, fail the command. The Docker engine is $DOCKER_HOST or /var/run/docker.sock; mlserve never pulls, so the base image must be local or pullable by the engine. See docs/build.md.`

  static override examples = [
    {description: 'Build the API in the current directory.', command: '<%= config.bin %> build'},
    {description: 'Print the generated Dockerfile, build nothing.', command: '<%= config.bin %> build --dockerfile-only'},
    {description: 'Build from a local base image (an air-gapped site) with a tag of your own.', command: '<%= config.bin %> build examples/iris --base-image mlserve-base:bookworm --tag iris:dev'},
    {description: 'In CI: fail on lint findings or a wasteful image.', command: '<%= config.bin %> build --ci --lowest-efficiency 0.95 --highest-user-wasted-percent 0.05'},
    {description: 'Machine-readable result: the tag, layers, inspection and findings.', command: '<%= config.bin %> build --json'},
  ]

  static override args = {
    dir: Args.string({description: 'The project directory (or its mlserve.yaml); the build context is this directory.', default: '.'}),
  }

  static override flags = {
    api: Flags.string({description: 'The API to build, when the config file defines several.'}),
    tag: Flags.string({
      char: 't',
      description: 'The image reference, NAME[:VERSION]; without :VERSION the version still comes from git (or the context digest). By default the API name is the NAME.',
    }),
    'base-image': Flags.string({description: 'The base image to build FROM instead of build.base_image (generated Dockerfile only), such as a local mlserve-base:bookworm.'}),
    'dockerfile-only': Flags.boolean({description: 'Print the Dockerfile to stdout, with lint findings on stderr, and build nothing (no Docker engine needed).', default: false}),
    ci: Flags.boolean({description: 'Fail (exit 1) on any lint finding or efficiency rule; thresholds not given take dive’s defaults.', default: false}),
    'no-cache': Flags.boolean({description: "Build every layer again instead of reusing the engine's cache.", default: false}),
    'allow-secret': Flags.string({
      description: 'A path (relative to the project) or an ENV/ARG name that looks like a secret but may go in the image anyway (repeatable).',
      multiple: true,
    }),
    'ignore-rule': Flags.string({description: 'A lint rule ID to skip, such as DL3008 (repeatable).', multiple: true}),
    ...ciThresholdFlags,
  }

  async run(): Promise<BuildResult | DockerfileOnlyResult> {
    const {args, flags} = await this.parse(Build)
    const thresholds = ciThresholds(flags, flags.ci)
    const plan = await planBuild({
      project: await loadProject(args.dir),
      api: flags.api,
      baseImage: flags['base-image'],
      allowSecrets: flags['allow-secret'],
      ignoreRules: flags['ignore-rule'],
    })
    for (const note of plan.notes) this.say(color.dim(note))
    const file = plan.dockerfileSource === 'generated' ? 'Dockerfile' : plan.dockerfileSource
    for (const finding of plan.lint) this.note(formatFinding(file, finding))

    if (flags['dockerfile-only']) {
      if (!this.jsonEnabled()) process.stdout.write(plan.dockerfile.endsWith('\n') ? plan.dockerfile : `${plan.dockerfile}\n`)
      if (flags.ci) assertCi(file, plan.lint.map((f) => ({rule: f.rule, message: formatFinding(file, f)})))
      return {api: plan.api.name, dockerfileSource: plan.dockerfileSource, dockerfile: plan.dockerfile, lint: plan.lint, files: plan.files, notes: plan.notes}
    }

    const result = await runBuild(plan, {
      tag: flags.tag,
      noCache: flags['no-cache'],
      ci: flags.ci,
      thresholds,
      onEvent: (event) => this.progress(event),
    })
    this.say(`${color.green('✓')} Built ${color.bold(result.tag)} (${result.image.replace(/^sha256:/, '').slice(0, 12)}) in ${(result.durationMs / 1000).toFixed(1)}s; ${result.steps.filter((s) => s.cached).length} of ${result.steps.length - 1} steps after FROM from cache.`)
    for (const line of renderInspect(result.inspect, {width: process.stderr.columns})) this.say(line)
    for (const rule of result.inspect.ci?.rules ?? []) this.say(`${rule.pass ? color.green('pass') : color.red('FAIL')} ${rule.rule}: ${rule.message}`)
    if (plan.lint.length === 0) this.say(`${color.green('✓')} Lint: no findings (${file}).`)
    if (result.pins.length > 0) {
      this.note(`build.system_packages names no versions (DL3008). This build installed: ${result.pins.join(', ')}. To build the same packages again and pass --ci, pin them in mlserve.yaml: system_packages: [${result.pins.map((pin) => JSON.stringify(pin)).join(', ')}]`)
    }
    if (result.ci) assertCi(result.tag, result.ci.failures)
    return result
  }

  private progress(event: BuildEvent): void {
    switch (event.type) {
      case 'context':
        this.say(color.dim(`Sending the build context: ${event.files} project files, ${formatBytes(event.bytes)}.`))
        break
      case 'step':
        this.say(`${color.cyan(`Step ${event.index}/${event.total}`)} ${event.instruction.replace(/\s+/g, ' ')}`)
        break
      case 'cached':
        this.say(color.dim('  (cached)'))
        break
      case 'output':
        this.say(color.dim(`  | ${event.line}`))
        break
      case 'checking':
        this.say(color.dim('Checking that the image can serve…'))
        break
      case 'checked':
        if (event.what !== null) this.say(`${color.green('✓')} Image check: ${event.what}.`)
        break
      case 'inspecting':
        this.say(color.dim('Inspecting the image layers…'))
        break
    }
  }
}
