import {Args, Flags} from '@oclif/core'
import {readFile} from 'node:fs/promises'
import {BaseCommand} from '../cli/base-command.js'
import * as flag from '../cli/flags.js'
import {color, shellQuote} from '../cli/ui.js'
import {mlserveError} from '../errors.js'

export interface PredictResult {
  url: string
  status: number
  attempts: number
  latencyMs: number
  requestId: string | null
  /** X-Mlserve-Cache: hit or miss for an API with a prediction cache, else null. */
  cache: string | null
  contentType: string | null
  body: unknown
}

export default class Predict extends BaseCommand {
  static override summary = 'Send one prediction to a running API, retrying as a production client should.'

  static override description =
    'Posts --data to the API\'s endpoint on a running gateway. Each try has a timeout; 502, 503 and 504 answers and connection errors are retried with exponential backoff and jitter, waiting at least as long as the Retry-After header asks. The response body goes to stdout.'

  static override examples = [
    `<%= config.bin %> predict --data '{"text": "great product"}'`,
    '<%= config.bin %> predict iris --data @payloads/sample.json',
    '<%= config.bin %> predict iris --data @payloads/sample.json --url http://127.0.0.1:9000 --json',
  ]

  static override args = {
    api: Args.string({description: 'The API to call; optional when the runtime serves one API.'}),
  }

  static override flags = {
    data: Flags.string({char: 'd', description: 'The request body: inline JSON, or @FILE to send a file (JSON or any bytes).', required: true}),
    url: Flags.string({description: 'The gateway, such as http://127.0.0.1:8888; by default the newest `mlserve run` on this machine.'}),
    env: flag.environmentName({description: 'Send it to the gateway `mlserve deploy` deployed to this environment (its deploy record on this machine gives the URL).', exclusive: ['url']}),
    'content-type': Flags.string({description: 'The Content-Type sent; by default application/json for JSON data and application/octet-stream otherwise.'}),
    header: flag.header({char: 'H', description: 'An extra request header as "Name: value" (repeat the flag for several).', multiple: true}),
    timeout: flag.duration({description: 'The time limit of each try.', default: '30s'}),
    retries: flag.count({description: 'How many times to retry after the first try.', default: '4'}),
  }

  async run(): Promise<PredictResult> {
    const {args, flags} = await this.parse(Predict)
    const timeoutMs = flags.timeout
    const {body, contentType} = await readData(flags.data, flags['content-type'])
    const headers = Object.fromEntries(flags.header ?? [])

    const retry = (api: string): string => ['mlserve', 'predict', api, ...this.argv.map(shellQuote)].join(' ')
    const url = flags.env ? await deployedEndpointUrl(flags.env, args.api, retry) : await endpointUrl(flags.url, args.api, retry)
    const {predict, answerSummary} = await import('../client/predict.js')
    const response = await predict({
      url,
      body,
      contentType,
      headers,
      timeoutMs,
      retries: flags.retries,
      onRetry: ({attempt, reason, delayMs}) => this.say(color.yellow(`try ${attempt} failed (${reason}); retrying in ${delayMs} ms`)),
    })
    const text = response.body.toString('utf8')
    let parsed: unknown = text
    if (response.contentType?.includes('json')) {
      try {
        parsed = JSON.parse(text)
      } catch {
        // keep the text
      }
    }
    const ok = response.status >= 200 && response.status < 300
    this.say((ok ? color.green : color.red)(`${answerSummary(response)} · x-request-id ${response.requestId ?? '-'}`))
    if (!this.jsonEnabled()) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
    if (!ok) process.exitCode = 1
    return {url, status: response.status, attempts: response.attempts, latencyMs: response.latencyMs, requestId: response.requestId, cache: response.cache, contentType: response.contentType, body: parsed}
  }
}

async function readData(data: string, contentType: string | undefined): Promise<{body: Buffer; contentType: string}> {
  if (data.startsWith('@')) {
    const path = data.slice(1)
    let body: Buffer
    try {
      body = await readFile(path)
    } catch (error) {
      throw mlserveError('MLS_DATA_INVALID', {flag: '--data', detail: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`})
    }
    if (contentType) return {body, contentType}
    try {
      JSON.parse(body.toString('utf8'))
      return {body, contentType: 'application/json'}
    } catch {
      return {body, contentType: 'application/octet-stream'}
    }
  }
  try {
    JSON.parse(data)
  } catch (error) {
    if (!contentType) throw mlserveError('MLS_DATA_INVALID', {flag: '--data', detail: `not valid JSON (${(error as Error).message})`})
  }
  return {body: Buffer.from(data), contentType: contentType ?? 'application/json'}
}

/**
 * The endpoint of the API (or TrafficSplitter) on the gateway deployed to
 * `env`, from the deploy record: the deployed gateway answers /status only
 * with its token, and the record already lists what it serves.
 */
async function deployedEndpointUrl(env: string, api: string | undefined, retry: (api: string) => string): Promise<string> {
  const {deployRecordsDir, listDeployRecords} = await import('../swarm/record.js')
  const records = listDeployRecords(env)
  if (records.length === 0) throw mlserveError('MLS_DEPLOY_NOT_FOUND', {env, project: null, dir: deployRecordsDir()})
  const served = (r: (typeof records)[number]) => [...r.apis, ...r.splitters]
  const names = [...new Set(records.flatMap((r) => served(r).map((a) => a.name)))]
  if (api === undefined) {
    if (names.length !== 1) throw mlserveError('MLS_API_AMBIGUOUS', {file: `environment ${env}`, available: names, retry: retry(names[0] ?? 'NAME')})
    api = names[0]
  }
  for (const record of records) {
    const found = served(record).find((a) => a.name === api)
    if (found) return `${record.url.replace(/\/$/, '')}${found.endpoint}`
  }
  throw mlserveError('MLS_API_NOT_FOUND', {name: api, file: `environment ${env}`, available: names})
}

/** The endpoint of the API on the gateway; `retry` is the command line again with an API named, for the error when one must be. */
async function endpointUrl(explicitUrl: string | undefined, api: string | undefined, retry: (api: string) => string): Promise<string> {
  const {fetchStatus, runtimeUrls} = await import('../client/runtimes.js')
  const [url] = runtimeUrls(explicitUrl)
  const status = await fetchStatus(url)
  const names = status.apis.map((a) => a.name)
  let chosen = status.apis[0]
  if (api) {
    const found = status.apis.find((a) => a.name === api)
    if (!found) throw mlserveError('MLS_API_NOT_FOUND', {name: api, file: url, available: names})
    chosen = found
  } else if (status.apis.length !== 1) {
    throw mlserveError('MLS_API_AMBIGUOUS', {file: url, available: names, retry: retry(names[0] ?? 'NAME')})
  }
  return `${url.replace(/\/$/, '')}${chosen.endpoint}`
}
