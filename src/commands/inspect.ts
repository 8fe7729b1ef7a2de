import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {ciThresholdFlags, ciThresholds} from '../cli/ci-flags.js'
import {color} from '../cli/ui.js'
import {connectDocker} from '../docker/index.js'
import {assertCi, inspectImage, renderInspect, type InspectReport} from '../image/index.js'

export type InspectResult = InspectReport

export default class Inspect extends BaseCommand {
  static override summary = "Show an image's layers, their sizes and the instructions that made them, and how many bytes it wastes."

  static override description = `Reads the image from the local Docker engine (its history and its layer tars, as \`docker save\` gives them) and reports each layer with its size and the instruction that created it, the total size, the efficiency and the wasted bytes, counted as dive does: for every path, the sum of its sizes across layers (cumulative) and its smallest size (minimum, 0 once a later layer deletes it). Efficiency is Σ minimum / Σ cumulative; wasted bytes are Σ (cumulative − minimum) over the paths that appear in two or more layers; user wasted percent is wasted bytes over the size of every layer after the first.

With --ci the command fails (exit 1, MLS_CI_CHECKS_FAILED) when a rule of dive's .dive-ci fails: efficiency below --lowest-efficiency (default 0.9), user wasted percent above --highest-user-wasted-percent (default 0.1), or wasted bytes above --highest-wasted-bytes (off unless given). A rule fails on strict inequality. \`mlserve build\` runs the same inspection after every build. See docs/build.md.`

  static override examples = [
    {description: 'Layers, sizes and waste of an image mlserve built.', command: '<%= config.bin %> inspect iris:v1.2.0'},
    {description: "Fail a CI job when the image wastes more than dive's defaults allow.", command: '<%= config.bin %> inspect iris:v1.2.0 --ci'},
    {description: 'Stricter thresholds, machine-readable.', command: '<%= config.bin %> inspect iris:v1.2.0 --ci --lowest-efficiency 0.95 --highest-user-wasted-percent 0.05 --json'},
  ]

  static override args = {
    image: Args.string({description: 'The image: a tag such as iris:v1.2.0, or an image ID. It must be in the local engine; mlserve never pulls.', required: true}),
  }

  static override flags = {
    ci: Flags.boolean({description: 'Fail (exit 1) when a threshold rule fails; thresholds not given take dive’s defaults.', default: false}),
    ...ciThresholdFlags,
  }

  async run(): Promise<InspectResult> {
    const {args, flags} = await this.parse(Inspect)
    const thresholds = ciThresholds(flags, flags.ci)
    const docker = await connectDocker()
    const report = await inspectImage(docker, args.image, thresholds)
    for (const line of renderInspect(report, {width: process.stderr.columns})) this.say(line)
    for (const rule of report.ci?.rules ?? []) this.say(`${rule.pass ? color.green('pass') : color.red('FAIL')} ${rule.rule}: ${rule.message}`)
    if (flags.ci) {
      assertCi(report.image, (report.ci?.rules ?? []).filter((r) => !r.pass).map((r) => ({rule: r.rule, message: r.message})))
    }
    return report
  }
}
