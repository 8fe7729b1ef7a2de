import {Flags} from '@oclif/core'
import {readFileSync} from 'node:fs'
import {BaseCommand} from '../cli/base-command.js'
import * as flag from '../cli/flags.js'
import {onInterrupt} from '../cli/interrupt.js'
import {mlserveError} from '../errors.js'

export interface GatewayResult {
  url: string
  stoppedBy: string
}

/** One JSON line on stdout: what a container's log driver (docker service logs, kubectl logs) keeps. */
function logLine(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({time: new Date().toISOString(), event, ...fields})}\n`)
}

export default class Gateway extends BaseCommand {
  // What a deployment runs in its gateway container; users run `mlserve deploy`, not this.
  static override hidden = true

  static override summary = "Serve a deployment's gateway from a plan file: admission control and traffic policies in front of replicas that run elsewhere."

  static override description = `Reads a runtime plan of driver 'remote' (JSON, written by \`mlserve deploy\` into a Swarm config or a ConfigMap), finds the replicas (dns: tasks.<service> every intervalMs; static: fixed origins) and serves every API and TrafficSplitter of the plan as \`mlserve run\` does, without starting or scaling any replica. Logs JSON lines to stdout. SIGTERM drains the requests in flight and exits 0. The token for the control routes comes from --token-file or $MLSERVE_GATEWAY_TOKEN; without one, nothing may change the routes.`

  static override examples = ['<%= config.bin %> gateway --plan /etc/mlserve/plan.json --token-file /run/secrets/mlserve-token']

  static override flags = {
    plan: Flags.string({description: "The plan file (JSON, driver 'remote').", required: true}),
    'token-file': Flags.string({description: 'A file holding the token the control routes require (a Swarm secret); default $MLSERVE_GATEWAY_TOKEN.'}),
    port: flag.port({description: "The port to listen on, in place of the plan's."}),
  }

  async run(): Promise<GatewayResult> {
    const {flags} = await this.parse(Gateway)
    const [{readRemotePlan}, {Runtime}] = await Promise.all([import('../runtime/plan-file.js'), import('../runtime/index.js')])
    const plan = readRemotePlan(flags.plan)
    if (flags.port !== undefined) plan.gateway.port = flags.port
    const token = readToken(flags['token-file'])
    if (token === null) logLine('log', {message: 'No token (--token-file or MLSERVE_GATEWAY_TOKEN): the control routes refuse every change; predictions are served.'})

    const runtime = await Runtime.start(plan, {log: (message) => logLine('log', {message}), token})
    let forced: Promise<void> = new Promise(() => {})
    const interrupts = onInterrupt({
      graceful: () => {},
      immediate: () => {
        forced = runtime.stop({drain: false})
      },
      say: (message) => logLine('log', {message}),
    })
    const {discovery} = plan.remote!
    logLine('listening', {
      url: runtime.url,
      apis: plan.apis.map((api) => ({name: api.name, endpoint: api.endpoint, maxReplicaConcurrency: api.maxReplicaConcurrency})),
      splitters: plan.splitters.map((splitter) => ({name: splitter.name, endpoint: splitter.endpoint})),
      discovery: discovery.kind === 'dns' ? {kind: 'dns', services: discovery.services, port: discovery.port} : {kind: 'static', origins: discovery.origins},
    })

    const signal = await interrupts.first
    logLine('draining', {signal, inFlight: runtime.gateway.inFlight()})
    await Promise.race([runtime.stop(), interrupts.second.then(() => forced)])
    interrupts.dispose()
    logLine('stopped', {signal})
    return {url: runtime.url, stoppedBy: signal}
  }
}

/** The token from the file (trimmed), else $MLSERVE_GATEWAY_TOKEN, else null. */
function readToken(file: string | undefined): string | null {
  if (file === undefined) return process.env.MLSERVE_GATEWAY_TOKEN?.trim() || null
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw mlserveError('MLS_GATEWAY_PLAN_TOKEN_UNREADABLE', {file, reason: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message})
  }
  const token = text.trim()
  if (token.length === 0) throw mlserveError('MLS_GATEWAY_PLAN_TOKEN_UNREADABLE', {file, reason: 'it is empty'})
  return token
}
