// Projects and clients for the traffic-policy tests: versions of one model
// (test/fixtures/traffic/versioned.py) behind a TrafficSplitter, and a bounded
// client that records which API answered each request.
import {readFileSync} from 'node:fs'
import {Pool, request} from 'undici'
import {apiYaml, type ApiShape} from './projects.js'

export const versionedPredictor = readFileSync(new URL('../fixtures/traffic/versioned.py', import.meta.url), 'utf8')

export interface SplitShape {
  apis: Array<ApiShape & {name: string; weight?: number; shadow?: boolean; shadowPercent?: number}>
  splitter?: string
  endpoint?: string
}

/** mlserve.yaml for the APIs and one splitter over them (those with a weight or shadow). */
export function splitYaml(shape: SplitShape): string {
  const apis = shape.apis.map((api) => apiYaml(api)).join('')
  const entries = shape.apis
    .filter((api) => api.weight !== undefined || api.shadow)
    .map((api) => `    - {name: ${api.name}, weight: ${api.weight ?? 0}${api.shadow ? ', shadow: true' : ''}${api.shadowPercent ? `, shadow_percent: ${api.shadowPercent}` : ''}}`)
    .join('\n')
  const networking = shape.endpoint ? `  networking: {endpoint: ${shape.endpoint}}\n` : ''
  return `${apis}- name: ${shape.splitter ?? 'model'}\n  kind: TrafficSplitter\n${networking}  apis:\n${entries}\n`
}

export interface Shot {
  status: number
  api: string | undefined
  body: any
  index: number
}

/**
 * Sends `count` POSTs to `url` with at most `concurrency` in flight, and
 * records each answer's status, X-Mlserve-Api header and JSON body.
 */
export async function fire(
  url: string,
  count: number,
  options: {concurrency?: number; payload?: (i: number) => unknown; headers?: (i: number) => Record<string, string>} = {},
): Promise<Shot[]> {
  const target = new URL(url)
  const concurrency = options.concurrency ?? 8
  const pool = new Pool(target.origin, {connections: concurrency})
  const shots: Shot[] = new Array(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++
      const response = await pool.request({
        path: target.pathname,
        method: 'POST',
        headers: {'content-type': 'application/json', ...options.headers?.(index)},
        body: JSON.stringify(options.payload?.(index) ?? {x: index}),
      })
      const text = await response.body.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // not JSON
      }
      const api = response.headers['x-mlserve-api']
      shots[index] = {status: response.statusCode, api: typeof api === 'string' ? api : undefined, body, index}
    }
  }
  try {
    await Promise.all(Array.from({length: concurrency}, worker))
  } finally {
    await pool.close()
  }
  return shots
}

/** How many answers each API gave. */
export function countByApi(shots: Shot[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const shot of shots) counts[shot.api ?? '-'] = (counts[shot.api ?? '-'] ?? 0) + 1
  return counts
}

/** The weights a splitter has in force, read from the gateway at `url`. */
export async function weightsAt(url: string, splitter: string): Promise<Record<string, number>> {
  const answer = await request(`${url}/traffic/${splitter}`)
  if (answer.statusCode !== 200) throw new Error(`GET /traffic/${splitter} answered ${answer.statusCode}`)
  return ((await answer.body.json()) as {weights: Record<string, number>}).weights
}
