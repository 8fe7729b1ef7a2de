// The environment store: environments.yaml in the user's config directory,
// read and validated on every call (it is small, and another mlserve may have
// changed it), edited through yaml's Document API so that a user's comments
// and key order survive `env add/use/remove`, and written with mode 0600
// atomically (secret-file.ts).
import {isMap, parseDocument, type Document} from 'yaml'
import {mlserveError} from '../errors.js'
import {isEnvironmentName, isNamespace, isSwarmLabelKey, parseDockerHost, parseNodeLabel, parseRegistry, SWARM_LABEL_KEY_RULE} from './fields.js'
import {environmentsFile} from './paths.js'
import {readTextIfExists, writeSecretFileAtomic} from './secret-file.js'

export type Engine = 'swarm' | 'kubernetes'
export const ENGINES: readonly Engine[] = ['swarm', 'kubernetes']

export interface Environment {
  name: string
  engine: Engine
  /** Where images are pushed: HOST[:PORT][/NAMESPACE], e.g. 127.0.0.1:5000 or registry.example.com/team; null = no registry (swarm on one node runs the local image). */
  registry: string | null
  /** swarm: the Docker endpoint, a DOCKER_HOST-style URL (unix:///var/run/docker.sock, tcp://host:2376); null = the default local engine. */
  dockerHost: string | null
  /** kubernetes: the kubeconfig file (null: $KUBECONFIG, then ~/.kube/config) and the context in it (null: its current-context). */
  kubeconfig: string | null
  context: string | null
  /** kubernetes namespace (default "default"). */
  namespace: string
  /** swarm: the host port the gateway publishes in host mode (default 8888). */
  gatewayPort: number
  /** Spot placement: the node label (KEY=VALUE) that marks spot nodes, or null: no spot placement. Fallback is on-demand nodes (any node without it). */
  spotLabel: {key: string; value: string} | null
}

export const DEFAULT_NAMESPACE = 'default'
export const DEFAULT_GATEWAY_PORT = 8888

/** Where `resolveEnvironment` found the name it resolved. */
export type EnvironmentSource = '--env' | 'MLSERVE_ENV' | 'mlserve env use'

// What a new file starts with; `env add` writes the first environment under it.
const HEADER = `# mlserve environments: where \`mlserve push\` and \`mlserve deploy\` send an API.
# Edited by \`mlserve env add|use|remove\`, which keep comments; see docs/deploy.md, "Environments".
# This file may name registries and clusters: keep it private (mode 0600).
`

/** The environments and the one `env use` chose (null: none, or one that no longer exists). */
export function listEnvironments(): {current: string | null; environments: Environment[]} {
  const file = environmentsFile()
  const text = readTextIfExists(file)
  if (text === null) return {current: null, environments: []}
  return readStore(text, file)
}

/**
 * The environment named by --env (`name`), else $MLSERVE_ENV, else the one
 * `env use` chose. MLS_ENV_NOT_FOUND names the known environments and how
 * to add one; MLS_ENV_NONE_CHOSEN says how to choose.
 */
export function resolveEnvironment(name?: string): Environment {
  return resolveEnvironmentWithSource(name).environment
}

/** As resolveEnvironment, and where the name came from. */
export function resolveEnvironmentWithSource(name?: string): {environment: Environment; source: EnvironmentSource} {
  const {current, environments} = listEnvironments()
  const fromEnv = process.env.MLSERVE_ENV
  const [wanted, source]: [string | null, EnvironmentSource] =
    name !== undefined && name !== '' ? [name, '--env'] : fromEnv ? [fromEnv, 'MLSERVE_ENV'] : [current, 'mlserve env use']
  const known = environments.map((e) => e.name)
  if (wanted === null) throw mlserveError('MLS_ENV_NONE_CHOSEN', {known})
  const environment = environments.find((e) => e.name === wanted)
  if (!environment) throw mlserveError('MLS_ENV_NOT_FOUND', {name: wanted, source, known, file: environmentsFile()})
  return {environment, source}
}

/** Adds (or with `replace`, replaces) an environment; MLS_ENV_EXISTS when it exists and `replace` is false. Returns the file. */
export function addEnvironment(environment: Environment, options: {replace?: boolean} = {}): string {
  assertName(environment.name)
  return editStore((doc, state, file) => {
    if (state.environments.some((e) => e.name === environment.name) && !options.replace) {
      throw mlserveError('MLS_ENV_EXISTS', {name: environment.name, file})
    }
    doc.setIn(['environments', environment.name], doc.createNode(toFields(environment)))
  })
}

/** Makes `name` the default (`env use`); MLS_ENV_NOT_FOUND when there is no such environment. */
export function useEnvironment(name: string): string {
  return editStore((doc, state, file) => {
    assertKnown(name, state, file)
    doc.set('current', name)
  })
}

/** Removes an environment (and the default, when it was the default); MLS_ENV_NOT_FOUND when there is no such environment. */
export function removeEnvironment(name: string): {file: string; wasCurrent: boolean} {
  let wasCurrent = false
  const file = editStore((doc, state, path) => {
    assertKnown(name, state, path)
    doc.deleteIn(['environments', name])
    if (state.current === name) {
      wasCurrent = true
      doc.delete('current')
    }
  })
  return {file, wasCurrent}
}

function assertName(name: string): void {
  if (!isEnvironmentName(name)) throw mlserveError('MLS_ENV_INVALID_NAME', {name})
}

function assertKnown(name: string, state: {environments: Environment[]}, file: string): void {
  if (!state.environments.some((e) => e.name === name)) {
    throw mlserveError('MLS_ENV_NOT_FOUND', {name, source: 'the command line', known: state.environments.map((e) => e.name), file})
  }
}

/** Reads the file (or starts one), lets `edit` change the document, and writes it back atomically with mode 0600. */
function editStore(edit: (doc: Document, state: {current: string | null; environments: Environment[]}, file: string) => void): string {
  const file = environmentsFile()
  const text = readTextIfExists(file) ?? HEADER
  const state = readStore(text, file)
  const doc = parseDocument(text)
  edit(doc, state, file)
  // An emptied map would print as `{}` and a later add would then write flow style: drop it instead.
  const remaining = doc.get('environments')
  if (isMap(remaining) && remaining.items.length === 0) doc.delete('environments')
  writeSecretFileAtomic(file, doc.contents === null ? text : doc.toString())
  return file
}

/** The file's content as a read-back: validated, with every default filled in; MLS_ENV_FILE_INVALID otherwise. */
export function readStore(text: string, file: string): {current: string | null; environments: Environment[]} {
  const doc = parseDocument(text)
  const fail = (reason: string) => mlserveError('MLS_ENV_FILE_INVALID', {file, reason})
  if (doc.errors.length > 0) throw fail(doc.errors[0].message.split('\n')[0])
  const data: unknown = doc.toJS() ?? {}
  if (!isRecord(data)) throw fail('its top level must be a mapping with `current` and `environments`')
  for (const key of Object.keys(data)) if (key !== 'current' && key !== 'environments') throw fail(`unknown top-level field "${key}" (expected current and environments)`)
  const raw = data.environments ?? {}
  if (!isRecord(raw)) throw fail('`environments` must be a mapping from names to environments')
  const environments = Object.entries(raw).map(([name, fields]) => fromFields(name, fields, fail))
  const current = data.current ?? null
  if (current !== null && typeof current !== 'string') throw fail('`current` must be the name of an environment')
  // A `current` that names nothing is read as none: `resolveEnvironment` then says how to choose.
  return {current: current !== null && environments.some((e) => e.name === current) ? current : null, environments}
}

// The file spells fields in snake_case, as mlserve.yaml does.
interface Fields {
  engine: Engine
  registry?: string
  docker_host?: string
  kubeconfig?: string
  context?: string
  namespace?: string
  gateway_port?: number
  spot_label?: string
}

const FIELD_NAMES = ['engine', 'registry', 'docker_host', 'kubeconfig', 'context', 'namespace', 'gateway_port', 'spot_label']

/** What the file holds for an environment: only what differs from the defaults. */
function toFields(environment: Environment): Fields {
  const fields: Fields = {engine: environment.engine}
  if (environment.registry !== null) fields.registry = environment.registry
  if (environment.dockerHost !== null) fields.docker_host = environment.dockerHost
  if (environment.kubeconfig !== null) fields.kubeconfig = environment.kubeconfig
  if (environment.context !== null) fields.context = environment.context
  if (environment.namespace !== DEFAULT_NAMESPACE) fields.namespace = environment.namespace
  if (environment.gatewayPort !== DEFAULT_GATEWAY_PORT) fields.gateway_port = environment.gatewayPort
  if (environment.spotLabel !== null) fields.spot_label = `${environment.spotLabel.key}=${environment.spotLabel.value}`
  return fields
}

function fromFields(name: string, fields: unknown, fail: (reason: string) => Error): Environment {
  const at = `environments.${name}`
  if (!isEnvironmentName(name)) throw fail(`"${name}" is not a valid environment name (lowercase letters, digits, - . _)`)
  if (!isRecord(fields)) throw fail(`${at} must be a mapping with at least \`engine\``)
  for (const key of Object.keys(fields)) if (!FIELD_NAMES.includes(key)) throw fail(`${at} has an unknown field "${key}" (known: ${FIELD_NAMES.join(', ')})`)
  const text = (key: string): string | null => {
    const value = fields[key]
    if (value === undefined || value === null) return null
    if (typeof value !== 'string' || value === '') throw fail(`${at}.${key} must be a non-empty string`)
    return value
  }
  const engine = fields.engine
  if (engine !== 'swarm' && engine !== 'kubernetes') throw fail(`${at}.engine must be swarm or kubernetes (found ${JSON.stringify(engine ?? null)})`)
  const registryText = text('registry')
  const registry = registryText === null ? null : parseRegistry(registryText)
  if (registry === undefined) throw fail(`${at}.registry must be HOST[:PORT][/NAMESPACE] without a scheme (found "${registryText}")`)
  const dockerHostText = text('docker_host')
  const dockerHost = dockerHostText === null ? null : parseDockerHost(dockerHostText)
  if (dockerHost === undefined) throw fail(`${at}.docker_host must be unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST (found "${dockerHostText}")`)
  const namespace = text('namespace') ?? DEFAULT_NAMESPACE
  if (!isNamespace(namespace)) throw fail(`${at}.namespace must be a Kubernetes namespace name (found "${namespace}")`)
  const port = fields.gateway_port ?? DEFAULT_GATEWAY_PORT
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw fail(`${at}.gateway_port must be a port from 1 to 65535`)
  const spotText = text('spot_label')
  const spotLabel = spotText === null ? null : parseNodeLabel(spotText)
  if (spotLabel === undefined) throw fail(`${at}.spot_label must be KEY=VALUE (found "${spotText}")`)
  if (spotLabel && engine === 'swarm' && !isSwarmLabelKey(spotLabel.key)) throw fail(`${at}.spot_label must be ${SWARM_LABEL_KEY_RULE} (found "${spotText}")`)
  return {name, engine, registry, dockerHost, kubeconfig: text('kubeconfig'), context: text('context'), namespace, gatewayPort: port, spotLabel}
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
