// A local stand-in for a Kubernetes API server, enough for the official
// client's server-side apply: the discovery documents (APIResourceList) of
// the groups mlserve's objects use, GET of an object, and PATCH with
// application/apply-patch+yaml, recorded with its query (dryRun,
// fieldManager, force) and body. A dry run changes nothing; an apply stores
// the object and moves its resourceVersion only when its content changed. A
// test may reject objects (422, as admission or a schema would) or leave a
// group out (as a cluster without KEDA does).
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {stringify} from 'yaml'

export interface RecordedPatch {
  path: string
  dryRun: string | null
  fieldManager: string | null
  force: string | null
  contentType: string | undefined
  body: Record<string, any>
}

interface Resource {
  name: string
  kind: string
}

/** The groups and kinds mlserve emits, as discovery lists them. */
const GROUPS: Record<string, Resource[]> = {
  '/api/v1': [
    {name: 'configmaps', kind: 'ConfigMap'},
    {name: 'services', kind: 'Service'},
  ],
  '/apis/apps/v1': [{name: 'deployments', kind: 'Deployment'}],
  '/apis/policy/v1': [{name: 'poddisruptionbudgets', kind: 'PodDisruptionBudget'}],
  '/apis/autoscaling/v2': [{name: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler'}],
  '/apis/keda.sh/v1alpha1': [{name: 'scaledobjects', kind: 'ScaledObject'}],
  '/apis/gateway.networking.k8s.io/v1': [{name: 'httproutes', kind: 'HTTPRoute'}],
}

export interface StandInOptions {
  /** Discovery paths answered 404, as a cluster without that group (e.g. '/apis/keda.sh/v1alpha1'). */
  missingGroups?: string[]
  /** A message to reject this PATCH with (422), or null to accept it. */
  reject?: (patch: RecordedPatch) => string | null
}

export interface KubeApiStandIn {
  url: string
  patches: RecordedPatch[]
  /** Every request as "METHOD PATH", in order. */
  requests: string[]
  objects: Map<string, Record<string, any>>
  /** Writes a kubeconfig for it (contexts "stand-in" and "elsewhere", current "stand-in") and returns its path. */
  kubeconfig(dir: string): string
  close(): Promise<void>
}

export async function startKubeApiStandIn(options: StandInOptions = {}): Promise<KubeApiStandIn> {
  const patches: RecordedPatch[] = []
  const requests: string[] = []
  const objects = new Map<string, Record<string, any>>()
  let resourceVersion = 100

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: Error) => send(res, 500, status(500, 'InternalError', error.message)))
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in')
    requests.push(`${req.method} ${url.pathname}`)
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')

    if (req.method === 'GET' && Object.hasOwn(GROUPS, url.pathname)) {
      if (options.missingGroups?.includes(url.pathname)) return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'))
      const groupVersion = url.pathname === '/api/v1' ? 'v1' : url.pathname.slice('/apis/'.length)
      return send(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion,
        resources: GROUPS[url.pathname].map((resource) => ({
          name: resource.name,
          singularName: resource.kind.toLowerCase(),
          namespaced: true,
          kind: resource.kind,
          verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        })),
      })
    }
    if (req.method === 'GET') {
      const stored = objects.get(url.pathname)
      return stored ? send(res, 200, stored) : send(res, 404, status(404, 'NotFound', `${url.pathname} not found`))
    }
    if (req.method === 'PATCH') {
      const patch: RecordedPatch = {
        path: url.pathname,
        dryRun: url.searchParams.get('dryRun'),
        fieldManager: url.searchParams.get('fieldManager'),
        force: url.searchParams.get('force'),
        contentType: req.headers['content-type'],
        // An apply patch is YAML; the client sends JSON, which YAML includes.
        body: JSON.parse(text) as Record<string, any>,
      }
      patches.push(patch)
      const rejection = options.reject?.(patch) ?? null
      if (rejection !== null) return send(res, 422, status(422, 'Invalid', rejection))
      const existing = objects.get(url.pathname)
      const content = JSON.stringify({...patch.body, metadata: {...patch.body.metadata, resourceVersion: undefined}})
      const same = existing !== undefined && JSON.stringify({...existing, metadata: {...existing.metadata, resourceVersion: undefined}}) === content
      const version = same ? existing.metadata.resourceVersion : String(++resourceVersion)
      const result = {...patch.body, metadata: {...patch.body.metadata, resourceVersion: version}}
      if (patch.dryRun !== 'All') objects.set(url.pathname, result)
      return send(res, existing ? 200 : 201, result)
    }
    send(res, 405, status(405, 'MethodNotAllowed', `${req.method} is not served by the stand-in`))
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    patches,
    requests,
    objects,
    kubeconfig(dir) {
      const file = join(dir, 'kubeconfig')
      writeFileSync(file, kubeconfigYaml(url))
      return file
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A kubeconfig whose current context reaches `server` over plain HTTP (insecure-skip-tls-verify: no CA to check). */
export function kubeconfigYaml(server: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{name: 'stand-in', cluster: {server, 'insecure-skip-tls-verify': true}}],
    users: [{name: 'tester', user: {token: 'stand-in-token'}}],
    contexts: [
      {name: 'stand-in', context: {cluster: 'stand-in', user: 'tester', namespace: 'ml'}},
      {name: 'elsewhere', context: {cluster: 'stand-in', user: 'tester', namespace: 'other'}},
    ],
    'current-context': 'stand-in',
  })
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code}
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(code, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)})
  res.end(text)
}
