// The apply path with the official client against a local stand-in of the
// API server (test/helpers/kube-apiserver.ts): a server-side dry run of every
// object before any apply, server-side apply with fieldManager mlserve and
// force, a status per object, and the errors (rejected, unreachable, no
// kubeconfig, unknown context). No live cluster is involved.
import {test, describe, before, after, beforeEach, afterEach} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {isMlserveError, type MlserveError} from '../../src/errors.js'
import {applyManifests, deployKubernetes, kubeconfigPath, kubernetesManifests, type KubernetesManifest} from '../../src/kubernetes/index.js'
import {kubeconfigYaml, startKubeApiStandIn, type KubeApiStandIn} from '../helpers/kube-apiserver.js'
import {IMAGES, kubernetesEnvironment, sklearnSplitterProject, type SplitterProject} from '../helpers/kubernetes.js'

let fixture: SplitterProject
let objects: KubernetesManifest[]
let dir: string
let standIn: KubeApiStandIn | null = null
const log: string[] = []

before(async () => {
  fixture = await sklearnSplitterProject({git: true})
  objects = await kubernetesManifests(fixture.project, kubernetesEnvironment(), IMAGES)
  dir = mkdtempSync(join(tmpdir(), 'mlserve-kubeconfig-'))
})
after(() => {
  fixture?.cleanup()
  rmSync(dir, {recursive: true, force: true})
})
beforeEach(() => {
  log.length = 0
})
afterEach(async () => {
  await standIn?.close()
  standIn = null
})

async function rejection(promise: Promise<unknown>, code: string): Promise<MlserveError> {
  let caught: unknown
  try {
    await promise
  } catch (error) {
    caught = error
  }
  assert.ok(isMlserveError(caught), `expected ${code}, got ${String(caught)}`)
  assert.equal(caught.code, code, caught.message)
  return caught
}

function environmentFor(server: KubeApiStandIn, context: string | null = null) {
  return kubernetesEnvironment({kubeconfig: server.kubeconfig(dir), context})
}

describe('applyManifests against the stand-in API server', () => {
  test('every object is dry-run on the server before any is applied, with server-side apply, fieldManager mlserve and force', async () => {
    standIn = await startKubeApiStandIn()
    const applied = await applyManifests(objects, environmentFor(standIn), {log: (line) => log.push(line)})

    const n = objects.length
    assert.equal(standIn.patches.length, 2 * n)
    const dry = standIn.patches.slice(0, n)
    const real = standIn.patches.slice(n)
    assert.ok(dry.every((patch) => patch.dryRun === 'All'), 'the first pass is all dry runs')
    assert.ok(real.every((patch) => patch.dryRun === null), 'the second pass applies')
    for (const patch of standIn.patches) {
      assert.equal(patch.fieldManager, 'mlserve')
      assert.equal(patch.force, 'true')
      assert.equal(patch.contentType, 'application/apply-patch+yaml')
    }
    // The bodies are the objects themselves, in order, to their own paths.
    assert.deepEqual(real.map((patch) => patch.body), objects.map((object) => object.toJSON()))
    assert.deepEqual(dry.map((patch) => patch.body), objects.map((object) => object.toJSON()))
    assert.equal(real[1].path, '/apis/apps/v1/namespaces/ml/deployments/iris')
    assert.equal(real.at(-1)!.path, '/apis/gateway.networking.k8s.io/v1/namespaces/ml/httproutes/iris-split')
    assert.ok(real.some((patch) => patch.path === '/apis/keda.sh/v1alpha1/namespaces/ml/scaledobjects/iris'))

    assert.deepEqual(applied.map((row) => row.status), new Array(n).fill('created'))
    assert.deepEqual(applied.map((row) => `${row.kind} ${row.name}`), objects.map((object) => `${object.kind} ${object.metadata?.name}`))
    assert.equal(log[0], `server-side dry run of ${n} objects on ${standIn.url}`)
    assert.equal(log[2], 'Deployment iris: created')
  })

  test('applied again: unchanged; with a changed Deployment: that one configured', async () => {
    standIn = await startKubeApiStandIn()
    const environment = environmentFor(standIn)
    await applyManifests(objects, environment, {log: () => undefined})
    const again = await applyManifests(objects, environment, {log: () => undefined})
    assert.deepEqual(new Set(again.map((row) => row.status)), new Set(['unchanged']))

    const changed = await kubernetesManifests(fixture.project, kubernetesEnvironment(), {...IMAGES, apis: {...IMAGES.apis, iris: 'registry.example.com/team/iris:v2'}})
    const third = await applyManifests(changed, environment, {log: () => undefined})
    const configured = third.filter((row) => row.status === 'configured').map((row) => `${row.kind} ${row.name}`)
    // The image and the version label moved: every object of API iris carries the label, the others are as they were.
    assert.deepEqual(configured, ['ConfigMap iris-gateway', 'Deployment iris', 'Service iris', 'PodDisruptionBudget iris', 'ScaledObject iris'])
    assert.equal(third.filter((row) => row.status === 'unchanged').length, objects.length - 5)
  })

  test('an object rejected in the dry run stops before any real apply, naming it and quoting the server', async () => {
    standIn = await startKubeApiStandIn({
      reject: (patch) => (patch.path.endsWith('/deployments/iris-v2') ? 'Deployment.apps "iris-v2" is invalid: spec.template.spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value' : null),
    })
    const error = await rejection(applyManifests(objects, environmentFor(standIn), {log: () => undefined}), 'MLS_K8S_REJECTED')
    assert.match(error.message, /^The Kubernetes API server rejected Deployment iris-v2 in the server-side dry run: HTTP 422: Deployment\.apps "iris-v2" is invalid/)
    assert.match(error.suggestion, /Nothing was applied/)
    assert.ok(standIn.patches.length > 0)
    assert.deepEqual(standIn.patches.filter((patch) => patch.dryRun !== 'All'), [], 'no real apply')
    assert.equal(standIn.objects.size, 0)
  })

  test('an object rejected in the apply stops there, the ones before it applied', async () => {
    standIn = await startKubeApiStandIn({reject: (patch) => (patch.dryRun === null && patch.path.endsWith('/services/iris-v2') ? 'quota exceeded: services' : null)})
    const error = await rejection(applyManifests(objects, environmentFor(standIn), {log: () => undefined}), 'MLS_K8S_REJECTED')
    assert.equal(error.message, 'The Kubernetes API server rejected Service iris-v2 in the apply: HTTP 422: quota exceeded: services.')
    // ConfigMap, Deployment, Service, PDB, ScaledObject of iris, then iris-v2's ConfigMap and Deployment.
    assert.equal(standIn.objects.size, 7)
  })

  test('a cluster without KEDA: the ScaledObject is rejected in the dry run, with the hint', async () => {
    standIn = await startKubeApiStandIn({missingGroups: ['/apis/keda.sh/v1alpha1']})
    const error = await rejection(applyManifests(objects, environmentFor(standIn), {log: () => undefined}), 'MLS_K8S_REJECTED')
    assert.match(error.message, /rejected ScaledObject iris in the server-side dry run: the cluster does not serve keda\.sh\/v1alpha1 \(HTTP 404\); is KEDA installed\?/)
    assert.deepEqual(standIn.patches.filter((patch) => patch.dryRun !== 'All'), [])
  })

  test('the context the environment names is used; an unknown one is MLS_K8S_CONTEXT_NOT_FOUND with the known ones', async () => {
    standIn = await startKubeApiStandIn()
    await applyManifests(objects.slice(0, 1), environmentFor(standIn, 'elsewhere'), {log: () => undefined})
    assert.equal(standIn.patches.length, 2)
    const error = await rejection(applyManifests(objects, environmentFor(standIn, 'staging'), {log: () => undefined}), 'MLS_K8S_CONTEXT_NOT_FOUND')
    assert.match(error.message, /has no context "staging" \(it has: stand-in, elsewhere\)/)
  })

  test('a server that does not answer: MLS_K8S_UNREACHABLE, naming it', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const {port} = probe.address() as {port: number}
        probe.close(() => resolve(port))
      })
    })
    const file = join(dir, 'kubeconfig-closed')
    writeFileSync(file, kubeconfigYaml(`http://127.0.0.1:${port}`))
    const error = await rejection(applyManifests(objects, kubernetesEnvironment({kubeconfig: file}), {log: () => undefined}), 'MLS_K8S_UNREACHABLE')
    assert.match(error.message, new RegExp(`^The Kubernetes API server http://127\\.0\\.0\\.1:${port} cannot be reached: ECONNREFUSED`))
  })

  test('no kubeconfig: MLS_K8S_NO_KUBECONFIG naming the file; the default is $KUBECONFIG, then ~/.kube/config', async () => {
    const missing = join(dir, 'absent', 'config')
    const error = await rejection(applyManifests(objects, kubernetesEnvironment({kubeconfig: missing}), {log: () => undefined}), 'MLS_K8S_NO_KUBECONFIG')
    assert.equal(error.message, `No usable kubeconfig at ${missing} (the file does not exist): mlserve cannot reach a Kubernetes cluster.`)
    assert.equal(kubeconfigPath({kubeconfig: null}, {KUBECONFIG: `/a/one:/b/two`}), '/a/one')
    assert.match(kubeconfigPath({kubeconfig: null}, {}), /\/\.kube\/config$/)

    const broken = join(dir, 'broken')
    writeFileSync(broken, 'clusters: [unclosed')
    await rejection(applyManifests(objects, kubernetesEnvironment({kubeconfig: broken}), {log: () => undefined}), 'MLS_K8S_NO_KUBECONFIG')
  })
})

describe('deployKubernetes without --dry-run', () => {
  test('validates, dry-runs on the server, applies, and returns a status per object', async () => {
    standIn = await startKubeApiStandIn()
    const lines: string[] = []
    const result = await deployKubernetes(fixture.project, environmentFor(standIn), {dryRun: false, gatewayImage: IMAGES.gateway, log: (line) => lines.push(line)})
    assert.equal(result.applied, true)
    assert.equal(result.yaml, undefined)
    assert.equal(result.objects.length, objects.length)
    assert.ok(result.objects.every((row) => row.status === 'created'))
    assert.equal(standIn.patches.length, 2 * objects.length)
    assert.match(lines[0], /^15 Kubernetes objects for namespace ml, each valid against its schema$/)
  })
})
