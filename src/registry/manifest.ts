// Reads a pushed manifest from the registry itself (the engine does not say
// how big each layer is): GET /v2/REPO/manifests/TAG with Docker's schema 2
// media type, basic auth, and a bearer token where the registry asks for one
// (token auth, as Docker Hub and most hosted registries use). A registry on
// a loopback address is spoken to over plain HTTP, as the engine does (it
// treats 127.0.0.0/8 as insecure); any other over HTTPS.
import {request} from 'undici'
import {registryHost} from '../environments/index.js'
import type {RegistryAuth} from './credentials.js'

export interface ManifestLayer {
  digest: string
  size: number
}

const ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'

/** The base URL the registry answers on. */
export function registryBaseUrl(registry: string): string {
  const host = registryHost(registry)
  const name = host.replace(/:\d+$/, '')
  const loopback = name === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(name)
  return `${loopback ? 'http' : 'https'}://${host}`
}

/** The manifest's layers (bottom first) and config size; throws when the registry does not give it. */
export async function fetchManifest(registry: string, repo: string, tag: string, auth: RegistryAuth | null): Promise<{layers: ManifestLayer[]; configSize: number}> {
  const url = `${registryBaseUrl(registry)}/v2/${repo}/manifests/${tag}`
  const basic = auth ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` : undefined
  let response = await get(url, basic)
  if (response.status === 401) {
    const challenge = /^Bearer\s+(.*)$/i.exec(response.challenge ?? '')
    if (challenge) response = await get(url, `Bearer ${await bearerToken(challenge[1], basic)}`)
  }
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`)
  const manifest = JSON.parse(response.body) as {layers?: Array<{digest?: string; size?: number}>; config?: {size?: number}}
  if (!Array.isArray(manifest.layers)) throw new Error(`GET ${url} answered a manifest without layers (a manifest list?)`)
  return {
    layers: manifest.layers.map((layer) => ({digest: String(layer.digest), size: Number(layer.size ?? 0)})),
    configSize: Number(manifest.config?.size ?? 0),
  }
}

async function get(url: string, authorization: string | undefined): Promise<{status: number; body: string; challenge: string | undefined}> {
  const response = await request(url, {
    method: 'GET',
    headers: {accept: ACCEPT, ...(authorization ? {authorization} : {})},
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  })
  const body = await response.body.text()
  const challenge = response.headers['www-authenticate']
  return {status: response.statusCode, body, challenge: Array.isArray(challenge) ? challenge[0] : challenge}
}

/** A token from the realm a Bearer challenge names (realm="…",service="…",scope="…"). */
async function bearerToken(params: string, basic: string | undefined): Promise<string> {
  const fields = Object.fromEntries([...params.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
  if (!fields.realm) throw new Error('the registry asked for a bearer token without naming its realm')
  const url = new URL(fields.realm)
  if (fields.service) url.searchParams.set('service', fields.service)
  if (fields.scope) url.searchParams.set('scope', fields.scope)
  const response = await get(url.toString(), basic)
  if (response.status !== 200) throw new Error(`the token service ${url.origin} answered ${response.status}`)
  const token = JSON.parse(response.body) as {token?: string; access_token?: string}
  const value = token.token ?? token.access_token
  if (!value) throw new Error(`the token service ${url.origin} gave no token`)
  return value
}
