import {Args, Flags} from '@oclif/core'
import Table from 'cli-table3'
import {join} from 'node:path'
import {BaseCommand} from '../cli/base-command.js'
import {color, shellQuote} from '../cli/ui.js'
import {DEFAULT_TEMPLATE, TEMPLATES, getTemplate, initProject, type InitResult as ScaffoldResult} from '../scaffold/index.js'

export interface TemplateInfo {
  name: string
  description: string
  /** Python modules the template's predictor needs beyond the standard library. */
  modules: string[]
}

/** What init made: the scaffold's result, without the setup steps' raw output (shown on the terminal), and the next steps it printed. */
export type InitResult = Omit<ScaffoldResult, 'setup'> & {
  /** Command lines to run next, in order, each ready to paste from the directory init ran in. */
  nextSteps: string[]
}

export interface InitListResult {
  templates: TemplateInfo[]
}

export default class Init extends BaseCommand {
  static override summary = 'Create a model-serving project from a template.'

  static override description = `Writes a project into DIR (created when missing): mlserve.yaml with every concurrency and autoscaling field commented, the predictor, a small model, requirements.txt, .dockerignore, sample payloads, a README and a GitHub Actions workflow that validates, builds and load-tests the API.

Templates: python (standard library only), sklearn (trains a scikit-learn model offline) and fastapi (your own server as a command predictor); --list describes them. For a template that needs Python packages, init looks for an interpreter that can import them ($MLSERVE_PYTHON, then python3, then /usr/bin/python3), pins it in mlserve.yaml as predictor.interpreter when it is not plain python3, and runs the template's setup (the sklearn template's train.py) with it.

init never overwrites a file unless --force is given: it checks every file first, lists all that exist, and writes nothing.`

  static override examples = [
    {description: 'A standard-library project in ./sentiment, served as the API "sentiment".', command: '<%= config.bin %> init sentiment'},
    {description: 'A scikit-learn project, trained on the spot.', command: '<%= config.bin %> init iris --template sklearn'},
    {description: 'A FastAPI server as a command predictor, with its own API name.', command: '<%= config.bin %> init api --template fastapi --name iris-fastapi'},
    {description: 'The templates and what they need.', command: '<%= config.bin %> init --list'},
    {description: 'Re-create the template files in the current directory, overwriting them.', command: '<%= config.bin %> init . --template python --force'},
  ]

  static override args = {
    dir: Args.string({description: 'The directory to create the project in; it is created when missing.', default: '.'}),
  }

  static override flags = {
    template: Flags.string({
      char: 't',
      description: `The template to start from: ${TEMPLATES.map((t) => t.name).join(', ')} (see --list).`,
      default: DEFAULT_TEMPLATE,
    }),
    name: Flags.string({
      char: 'n',
      description: "The API's name, a DNS-1123 label such as iris-classifier; by default the directory's name.",
    }),
    force: Flags.boolean({
      char: 'f',
      description: 'Overwrite files that already exist in DIR instead of refusing; other files are left alone.',
      default: false,
    }),
    list: Flags.boolean({
      description: 'List the templates with what each contains and needs, and create nothing.',
      default: false,
    }),
  }

  async run(): Promise<InitResult | InitListResult> {
    const {args, flags} = await this.parse(Init)
    if (flags.list) return this.list()

    getTemplate(flags.template) // MLS_TEMPLATE_UNKNOWN before anything else
    const result = await initProject({
      dir: args.dir,
      template: flags.template,
      name: flags.name,
      force: flags.force,
      onProgress: (line) => this.say(color.dim(line)),
    })

    for (const outcome of result.setup) {
      this.say(color.dim(`${outcome.script} (${outcome.seconds.toFixed(1)}s): ${outcome.output.split('\n').at(-1) ?? ''}`))
    }
    this.say(`Created ${color.bold(result.name)} from the ${result.template} template in ${args.dir}:`)
    for (const file of result.files) this.say(`  ${file}`)
    if (result.interpreter) this.say(`Python: ${result.interpreter}${result.interpreter === 'python3' ? '' : ' (pinned in mlserve.yaml as predictor.interpreter)'}`)
    for (const warning of result.warnings) this.note(warning)

    const spec = getTemplate(result.template)
    const payload = join(args.dir, spec.samplePayload)
    this.say('')
    const dir = shellQuote(args.dir)
    const steps: Array<[string, string]> = [
      [`mlserve run ${dir}`, 'serve it locally'],
      [`mlserve predict ${result.name} --data @${shellQuote(payload)}`, 'send a sample request (from another terminal)'],
      [`mlserve loadtest ${dir} --api ${result.name} --duration 20`, 'measure latency and throughput'],
      [`mlserve tune ${dir} --api ${result.name} --slo-p99 200 --peak-rps 100`, 'find the processes, threads and concurrency for a p99 of 200 ms at 100 req/s'],
    ]
    const width = Math.max(...steps.map(([command]) => command.length))
    this.say('Next steps:')
    for (const [command, what] of steps) this.say(`  ${color.cyan(command.padEnd(width))}  ${color.dim(what)}`)
    this.say(`See ${join(args.dir, 'README.md')} for more.`)

    const {setup: _setup, ...typed} = result
    return {...typed, nextSteps: steps.map(([command]) => command)}
  }

  private list(): InitListResult {
    const templates: TemplateInfo[] = TEMPLATES.map((t) => ({name: t.name, description: t.description, modules: [...t.modules]}))
    const table = new Table({
      head: ['template', 'description', 'needs'],
      colWidths: [10, 70, 24],
      wordWrap: true,
      style: {head: [], border: []},
    })
    for (const t of templates) table.push([t.name + (t.name === DEFAULT_TEMPLATE ? ' *' : ''), t.description, t.modules.length > 0 ? t.modules.join(', ') : 'standard library'])
    this.say(table.toString())
    this.say(color.dim(`* the default. Create one with: mlserve init DIR --template NAME`))
    return {templates}
  }
}
