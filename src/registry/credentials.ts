// Registry credentials, from three places in this order: the environment
// (MLSERVE_REGISTRY_USERNAME / MLSERVE_REGISTRY_PASSWORD, for CI), what
// `mlserve login` stored (credentials.yaml beside environments.yaml, mode
// 0600), and the user's Docker config.json ($DOCKER_CONFIG or ~/.docker),
// whose plain `auths[HOST].auth` entries are read. Docker's credential
// helpers (credsStore, credHelpers) are not run: an entry kept only in a
// helper is not found, and the push goes out anonymous.
import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {isMap, parseDocument} from 'yaml'
import {credentialsFile, readTextIfExists, registryHost, writeSecretFileAtomic} from '../environments/index.js'

export interface RegistryAuth {
  username: string
  password: string
  serveraddress: string
}

export type CredentialSource = 'environment' | 'login' | 'docker-config'

/** What each source is called in messages. */
export const SOURCE_NAMES: Record<CredentialSource, string> = {
  environment: 'MLSERVE_REGISTRY_USERNAME/MLSERVE_REGISTRY_PASSWORD',
  login: '`mlserve login`',
  'docker-config': "Docker's config.json",
}

/**
 * MLSERVE_REGISTRY_USERNAME/MLSERVE_REGISTRY_PASSWORD, else what `mlserve
 * login` stored, else the user's Docker config.json auths; null: anonymous.
 */
export function registryAuth(registry: string): RegistryAuth | null {
  return findRegistryAuth(registry)?.auth ?? null
}

/** As registryAuth, and which source gave the credentials. */
export function findRegistryAuth(registry: string): {auth: RegistryAuth; source: CredentialSource} | null {
  const host = registryHost(registry)
  const username = process.env.MLSERVE_REGISTRY_USERNAME
  const password = process.env.MLSERVE_REGISTRY_PASSWORD
  if (username && password !== undefined) return {auth: {username, password, serveraddress: host}, source: 'environment'}
  const stored = storedLogins()[host]
  if (stored) return {auth: {...stored, serveraddress: host}, source: 'login'}
  const docker = dockerConfigAuths()[host]
  if (docker) return {auth: {...docker, serveraddress: host}, source: 'docker-config'}
  return null
}

/** The logins `mlserve login` stored, by registry host. */
export function storedLogins(): Record<string, {username: string; password: string}> {
  const file = credentialsFile()
  const text = readTextIfExists(file)
  if (text === null) return {}
  const data = parseDocument(text).toJS() as {registries?: Record<string, {username?: unknown; password?: unknown}>} | null
  const out: Record<string, {username: string; password: string}> = {}
  for (const [host, entry] of Object.entries(data?.registries ?? {})) {
    if (entry && typeof entry.username === 'string' && typeof entry.password === 'string') out[host] = {username: entry.username, password: entry.password}
  }
  return out
}

const LOGINS_HEADER = `# mlserve registry logins, written by \`mlserve login\`. Passwords are kept in plain text:
# this file must stay private (mode 0600). To forget a login, delete its entry.
`

/** Stores a login (after the registry accepted it), keeping the file's comments; returns the file. */
export function storeLogin(auth: RegistryAuth): string {
  const file = credentialsFile()
  const text = readTextIfExists(file) ?? LOGINS_HEADER
  const doc = parseDocument(text)
  // A file whose top level is not a mapping (emptied by hand) starts over under the header.
  const target = doc.contents === null || isMap(doc.contents) ? doc : parseDocument(LOGINS_HEADER)
  target.setIn(['registries', registryHost(auth.serveraddress)], target.createNode({username: auth.username, password: auth.password}))
  writeSecretFileAtomic(file, target.toString())
  return file
}

/** Docker's config.json: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function dockerConfigFile(): string {
  return join(process.env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json')
}

/**
 * The plain `auths` entries of Docker's config.json, by registry host (a key
 * written as a URL, https://index.docker.io/v1/, is read as its host). An
 * unreadable file or entry is skipped: Docker's config is the user's, and a
 * push without it is anonymous, which the registry then refuses clearly.
 */
export function dockerConfigAuths(): Record<string, {username: string; password: string}> {
  let config: {auths?: Record<string, {auth?: unknown}>}
  try {
    config = JSON.parse(readFileSync(dockerConfigFile(), 'utf8'))
  } catch {
    return {}
  }
  const out: Record<string, {username: string; password: string}> = {}
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    if (!entry || typeof entry.auth !== 'string' || entry.auth === '') continue
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon <= 0) continue
    out[hostOfKey(key)] = {username: decoded.slice(0, colon), password: decoded.slice(colon + 1)}
  }
  return out
}

function hostOfKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').split('/')[0]
}
