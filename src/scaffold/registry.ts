// The templates `mlserve init` offers: what each is, which Python modules its
// predictor needs (so init can find an interpreter that has them), and the
// setup steps init runs after writing the files. Each name matches a folder
// under templates/ (a unit test holds the two in step).
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {mlserveError} from '../errors.js'
import {templatesRoot} from './paths.js'

export interface SetupStep {
  /** A Python script in the generated project, run with the chosen interpreter from the project directory. */
  script: string
  /** What the step does, shown while it runs ("Training the model"). */
  title: string
  timeoutMs: number
  /** Files the step writes, relative to the project; init treats them as its own (conflicts, file list). */
  produces: string[]
}

export interface TemplateSpec {
  name: string
  /** One line, shown by `mlserve init --list`. */
  description: string
  /** The predictor.type of its mlserve.yaml. */
  predictorType: 'python' | 'command'
  /** Python modules the predictor's interpreter must import; empty for the standard library only. */
  modules: string[]
  /** How to install the modules: Debian packages (for /usr/bin/python3) and pip requirement names. */
  install: {apt: string[]; pip: string[]}
  setup: SetupStep[]
  /** The payload shown in next steps, relative to the project. */
  samplePayload: string
}

export const DEFAULT_TEMPLATE = 'python'

export const TEMPLATES: readonly TemplateSpec[] = [
  {
    name: 'python',
    predictorType: 'python',
    description: 'A PythonPredictor using only the standard library: a keyword sentiment scorer that loads model/weights.json.',
    modules: [],
    install: {apt: [], pip: []},
    setup: [],
    samplePayload: 'payloads/sample.json',
  },
  {
    name: 'sklearn',
    predictorType: 'python',
    description: 'A scikit-learn iris classifier: train.py trains it offline, the PythonPredictor scores batches with numpy.',
    modules: ['sklearn', 'numpy', 'joblib'],
    install: {apt: ['python3-sklearn'], pip: ['scikit-learn', 'numpy']},
    setup: [
      {
        script: 'train.py',
        title: 'Training the model (train.py)',
        timeoutMs: 180_000,
        produces: ['model/model.joblib', 'model/metrics.json'],
      },
    ],
    samplePayload: 'payloads/sample.json',
  },
  {
    name: 'fastapi',
    predictorType: 'command',
    description: 'A command predictor: a FastAPI app served by uvicorn on $PORT, with POST /predict and GET /healthz.',
    modules: ['fastapi', 'uvicorn'],
    install: {apt: ['python3-fastapi', 'python3-uvicorn'], pip: ['fastapi', 'uvicorn']},
    setup: [],
    samplePayload: 'payloads/sample.json',
  },
]

export function templateNames(): string[] {
  return TEMPLATES.map((t) => t.name)
}

/** The template called `name`, or MLS_TEMPLATE_UNKNOWN listing the others. */
export function getTemplate(name: string): TemplateSpec {
  const spec = TEMPLATES.find((t) => t.name === name)
  if (!spec) throw mlserveError('MLS_TEMPLATE_UNKNOWN', {template: name, available: templateNames()})
  return spec
}

/** The folder that holds a template's files. */
export function templateDir(spec: TemplateSpec, root: string = templatesRoot()): string {
  const dir = join(root, spec.name)
  if (!existsSync(dir)) {
    throw new Error(`the ${spec.name} template's files are missing (${dir}); the installation is incomplete`)
  }
  return dir
}
