// What the Kubernetes tests share: the sklearn template scaffolded by
// `mlserve init`'s own code, grown to two API versions and a shadow behind a
// TrafficSplitter, in a git repository (the images' version comes from git);
// and a Kubernetes environment as the environment store would give it.
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {parse, stringify} from 'yaml'
import {loadProject, type Project} from '../../src/config/index.js'
import type {Environment} from '../../src/environments/index.js'
import {initProject} from '../../src/scaffold/index.js'

export interface SplitterProject {
  root: string
  dir: string
  project: Project
  cleanup(): void
}

/**
 * The sklearn template (no training: the manifests need no model) as three
 * RealtimeAPIs, iris (the template's), iris-v2 (a GPU, a /dev/shm size, a
 * rolling update of 1 surge) and iris-shadow, and a TrafficSplitter
 * iris-split sending 80/20 to iris/iris-v2 and mirroring to iris-shadow.
 * Committed to git when `git` is true.
 */
export async function sklearnSplitterProject(options: {git?: boolean} = {}): Promise<SplitterProject> {
  const root = mkdtempSync(join(tmpdir(), 'mlserve-k8s-'))
  const dir = join(root, 'iris')
  await initProject({dir, template: 'sklearn', name: 'iris', setup: false, env: {...process.env, MLSERVE_PYTHON: process.env.MLSERVE_PYTHON ?? 'python3'}})
  const file = join(dir, 'mlserve.yaml')
  const base = parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  const v2 = {
    ...base,
    name: 'iris-v2',
    networking: {endpoint: '/iris-v2'},
    compute: {cpu: '1500m', mem: '1Gi', gpu: 1, shm: '256Mi'},
    update_strategy: {max_surge: 1, max_unavailable: 0},
  }
  const shadow = {...base, name: 'iris-shadow', networking: {endpoint: '/iris-shadow'}, autoscaling: {min_replicas: 2, max_replicas: 2}}
  const splitter = {
    name: 'iris-split',
    kind: 'TrafficSplitter',
    apis: [
      {name: 'iris', weight: 80},
      {name: 'iris-v2', weight: 20},
      {name: 'iris-shadow', weight: 0, shadow: true},
    ],
  }
  writeFileSync(file, stringify([base, v2, shadow, splitter]))
  if (options.git) {
    const git = (args: string[]) => execa('git', args, {cwd: dir, env: {GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t'}})
    await git(['init', '-q'])
    await git(['add', '-A'])
    await git(['commit', '-q', '-m', 'iris'])
  }
  const project = await loadProject(dir)
  return {root, dir, project, cleanup: () => rmSync(root, {recursive: true, force: true})}
}

export function kubernetesEnvironment(overrides: Partial<Environment> = {}): Environment {
  return {
    name: 'prod',
    engine: 'kubernetes',
    registry: 'registry.example.com/team',
    dockerHost: null,
    kubeconfig: null,
    context: null,
    namespace: 'ml',
    gatewayPort: 8888,
    spotLabel: null,
    ...overrides,
  }
}

export const IMAGES = {
  apis: {iris: 'registry.example.com/team/iris:v1', 'iris-v2': 'registry.example.com/team/iris-v2:v1', 'iris-shadow': 'registry.example.com/team/iris-shadow:v1'},
  gateway: 'registry.example.com/team/mlserve-gateway:0.1.0',
}
