// The Kubernetes objects for the sklearn template with a TrafficSplitter over
// two API versions and a shadow: every object passes its schema, and each
// config field lands where docs/deploy.md's table says.
import {test, describe, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {parse, parseAllDocuments} from 'yaml'
import {containerEnv, CONTAINER_PORT} from '../../src/runtime/harness/index.js'
import {planRuntime} from '../../src/runtime/index.js'
import {checkRemotePlan} from '../../src/runtime/plan-file.js'
import {deployImages, deployKubernetes, kubernetesManifests, resolveManifestOptions, validateManifests, type KubernetesManifest} from '../../src/kubernetes/index.js'
import {isMlserveError} from '../../src/errors.js'
import {IMAGES, kubernetesEnvironment, sklearnSplitterProject, type SplitterProject} from '../helpers/kubernetes.js'

// Plain JSON shapes of the objects, as the API server receives them.
type Json = Record<string, any>

let fixture: SplitterProject
let objects: KubernetesManifest[]
const notes: string[] = []

function find(kind: string, name: string): Json {
  const object = objects.find((candidate) => candidate.kind === kind && candidate.metadata?.name === name)
  assert.ok(object, `no ${kind} ${name} among ${objects.map((o) => `${o.kind} ${o.metadata?.name}`).join(', ')}`)
  return object.toJSON()
}

function container(deployment: Json, name: string): Json {
  const found = deployment.spec.template.spec.containers.find((c: Json) => c.name === name)
  assert.ok(found, `no container ${name}`)
  return found
}

before(async () => {
  fixture = await sklearnSplitterProject({git: true})
  objects = await kubernetesManifests(fixture.project, kubernetesEnvironment({spotLabel: {key: 'node.example.com/lifecycle', value: 'spot'}}), IMAGES, {log: (line) => notes.push(line)})
})
after(() => fixture?.cleanup())

describe('kubernetesManifests: the sklearn template with a TrafficSplitter', () => {
  test('the object list, in apply order, and every object passes its schema', () => {
    assert.deepEqual(
      objects.map((object) => `${object.apiVersion} ${object.kind} ${object.metadata?.name}`),
      [
        'v1 ConfigMap iris-gateway',
        'apps/v1 Deployment iris',
        'v1 Service iris',
        'policy/v1 PodDisruptionBudget iris',
        'keda.sh/v1alpha1 ScaledObject iris',
        'v1 ConfigMap iris-v2-gateway',
        'apps/v1 Deployment iris-v2',
        'v1 Service iris-v2',
        'policy/v1 PodDisruptionBudget iris-v2',
        'keda.sh/v1alpha1 ScaledObject iris-v2',
        'v1 ConfigMap iris-shadow-gateway',
        'apps/v1 Deployment iris-shadow',
        'v1 Service iris-shadow',
        'policy/v1 PodDisruptionBudget iris-shadow',
        'gateway.networking.k8s.io/v1 HTTPRoute iris-split',
      ],
    )
    validateManifests(objects)
    for (const object of objects) assert.equal(object.metadata?.namespace, 'ml', `${object.kind} ${object.metadata?.name} in the environment's namespace`)
  })

  test("the model container's environment is the harness's containerEnv of the plan's replica spec", async () => {
    const plan = await planRuntime(fixture.project, {
      driver: 'remote',
      remote: {discovery: {kind: 'static', origins: {iris: ['http://127.0.0.1:8080']}}, control: 'token'},
      apis: ['iris'],
      host: '0.0.0.0',
      port: 8888,
      timeoutMs: 60_000,
      maxBodyBytes: 10 * 1024 * 1024,
      readinessTimeoutMs: 120_000,
      retryAfterSeconds: 1,
      accessLog: false,
    })
    const spec = {...plan.apis[0].replicas[0], projectDir: '/app', predictorPath: '/app/predictor.py'}
    const model = container(find('Deployment', 'iris'), 'api')
    assert.deepEqual(Object.fromEntries(model.env.map((entry: Json) => [entry.name, entry.value])), containerEnv(spec))
    const env = Object.fromEntries(model.env.map((entry: Json) => [entry.name, entry.value]))
    // The template's tuned numbers, through the plan: 2 processes × 1 thread, its BLAS limits, its predictor config.
    assert.equal(env.MLSERVE_PROCESSES, '2')
    assert.equal(env.MLSERVE_THREADS, '1')
    assert.equal(env.OMP_NUM_THREADS, '1')
    assert.equal(env.MLSERVE_PREDICTOR, 'predictor.py')
    assert.deepEqual(JSON.parse(env.MLSERVE_CONFIG_JSON), {model_path: 'model/model.joblib', max_batch: 1024})
    assert.equal(model.image, IMAGES.apis.iris)
    assert.deepEqual(model.ports, [{name: 'replica', containerPort: CONTAINER_PORT, protocol: 'TCP'}])
  })

  test('compute as requests and equal limits; GPUs as nvidia.com/gpu; shm as a memory emptyDir', () => {
    assert.deepEqual(container(find('Deployment', 'iris'), 'api').resources, {requests: {cpu: '1000m', memory: '512Mi'}, limits: {cpu: '1000m', memory: '512Mi'}})
    const v2 = find('Deployment', 'iris-v2')
    const model = container(v2, 'api')
    assert.deepEqual(model.resources, {
      requests: {cpu: '1500m', memory: '1Gi', 'nvidia.com/gpu': '1'},
      limits: {cpu: '1500m', memory: '1Gi', 'nvidia.com/gpu': '1'},
    })
    assert.deepEqual(model.volumeMounts, [{name: 'dshm', mountPath: '/dev/shm'}])
    assert.deepEqual(
      v2.spec.template.spec.volumes.find((volume: Json) => volume.name === 'dshm'),
      {name: 'dshm', emptyDir: {medium: 'Memory', sizeLimit: '256Mi'}},
    )
    assert.deepEqual(v2.spec.strategy, {type: 'RollingUpdate', rollingUpdate: {maxSurge: 1, maxUnavailable: 0}})
    assert.deepEqual(find('Deployment', 'iris').spec.strategy.rollingUpdate, {maxSurge: '25%', maxUnavailable: '25%'})
  })

  test('probes: readiness and a gentler liveness on the harness, the sidecar on its own /readyz and /healthz', () => {
    const deployment = find('Deployment', 'iris')
    const model = container(deployment, 'api')
    assert.deepEqual(model.readinessProbe.httpGet, {path: '/healthz', port: 8080})
    assert.deepEqual(model.livenessProbe.httpGet, {path: '/healthz', port: 8080})
    const patience = (probe: Json) => probe.periodSeconds * probe.failureThreshold
    assert.ok(patience(model.livenessProbe) > patience(model.readinessProbe), 'liveness waits longer than readiness before acting')
    assert.ok(model.livenessProbe.timeoutSeconds > model.readinessProbe.timeoutSeconds)
    // The startup probe gives the model the runtime's readiness timeout (120 s) to load.
    assert.equal(model.startupProbe.periodSeconds * model.startupProbe.failureThreshold, 120)
    const gateway = container(deployment, 'gateway')
    assert.deepEqual(gateway.readinessProbe.httpGet, {path: '/readyz', port: 8888})
    assert.deepEqual(gateway.livenessProbe.httpGet, {path: '/healthz', port: 8888})
  })

  test('preStop drain: the sidecar sleeps out the endpoint update, the model waits for the sidecar, the grace period outlasts the gateway timeout', () => {
    const deployment = find('Deployment', 'iris')
    const gateway = container(deployment, 'gateway')
    assert.deepEqual(gateway.lifecycle.preStop, {sleep: {seconds: 5}})
    const model = container(deployment, 'api')
    const [interpreter, flag, script] = model.lifecycle.preStop.exec.command
    assert.equal(interpreter, 'python3')
    assert.equal(flag, '-c')
    assert.match(script, /time\.sleep\(5\)/)
    assert.match(script, /create_connection\(\("127\.0\.0\.1", 8888\)/)
    assert.match(script, /time\.time\(\) \+ 60\n/)
    const plan = JSON.parse(find('ConfigMap', 'iris-gateway').data['plan.json'])
    assert.ok(deployment.spec.template.spec.terminationGracePeriodSeconds > 5 + plan.gateway.timeoutMs / 1000)
  })

  test('the gateway sidecar: gateway --plan from the ConfigMap, driver remote with the model beside it, port 8888 behind the Service', () => {
    const deployment = find('Deployment', 'iris')
    const gateway = container(deployment, 'gateway')
    assert.equal(gateway.image, IMAGES.gateway)
    assert.deepEqual(gateway.args, ['gateway', '--plan', '/etc/mlserve/plan.json'])
    assert.deepEqual(gateway.ports, [{name: 'gateway', containerPort: 8888, protocol: 'TCP'}])
    assert.deepEqual(gateway.volumeMounts, [{name: 'plan', mountPath: '/etc/mlserve', readOnly: true}])
    assert.deepEqual(deployment.spec.template.spec.volumes[0], {name: 'plan', configMap: {name: 'iris-gateway'}})
    assert.deepEqual(gateway.env, [{name: 'MLSERVE_GATEWAY_TOKEN', valueFrom: {secretKeyRef: {name: 'iris-gateway-token', key: 'token', optional: true}}}])

    const plan = JSON.parse(find('ConfigMap', 'iris-gateway').data['plan.json'])
    assert.equal(plan.driver, 'remote')
    assert.deepEqual(plan.remote, {discovery: {kind: 'static', origins: {iris: ['http://127.0.0.1:8080']}}, control: 'token'})
    assert.equal(plan.gateway.host, '0.0.0.0')
    assert.equal(plan.gateway.port, 8888)
    assert.deepEqual(plan.project, {file: '/app/mlserve.yaml', dir: '/app'})
    assert.deepEqual(plan.apis.map((api: Json) => api.name), ['iris'])
    // Admission in front of the model, as queue-proxy's: the template's max_replica_concurrency.
    assert.equal(plan.apis[0].maxReplicaConcurrency, 8)
    // The splitter's path, served by each of its APIs' sidecars with their own model.
    assert.deepEqual(plan.splitters, [{name: 'iris-split', endpoint: '/iris-split', apis: [{name: 'iris', weight: 100}], shadow: null}])
    assert.deepEqual(JSON.parse(find('ConfigMap', 'iris-shadow-gateway').data['plan.json']).splitters[0].apis, [{name: 'iris-shadow', weight: 100}])

    const service = find('Service', 'iris')
    assert.deepEqual(service.spec.ports, [{name: 'http', port: 80, targetPort: 'gateway', protocol: 'TCP'}])
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels)
    assert.deepEqual(deployment.spec.selector.matchLabels, {'app.kubernetes.io/name': 'iris', 'app.kubernetes.io/part-of': 'iris'})
    assert.equal(deployment.metadata.labels['app.kubernetes.io/managed-by'], 'mlserve')
    assert.equal(deployment.metadata.labels['app.kubernetes.io/version'], 'v1')
  })

  test("each sidecar's plan is one the gateway reads (H2's plan-file check for `mlserve gateway --plan`)", () => {
    for (const object of objects.filter((candidate) => candidate.kind === 'ConfigMap')) {
      const plan = checkRemotePlan(JSON.parse((object.toJSON() as Json).data['plan.json']), object.metadata!.name!)
      assert.equal(plan.apis.length, 1)
      assert.equal(plan.announce, false)
    }
  })

  test('KEDA: a prometheus trigger on mlserve_api_in_flight, AverageValue target_replica_concurrency, min/max and the stabilization windows', () => {
    const scaled = find('ScaledObject', 'iris')
    assert.deepEqual(scaled.spec.scaleTargetRef, {apiVersion: 'apps/v1', kind: 'Deployment', name: 'iris'})
    assert.equal(scaled.spec.minReplicaCount, 1)
    assert.equal(scaled.spec.maxReplicaCount, 4)
    const [trigger] = scaled.spec.triggers
    assert.equal(trigger.type, 'prometheus')
    assert.equal(trigger.metricType, 'AverageValue')
    // target_replica_concurrency defaults to processes × threads: 2.
    assert.equal(trigger.metadata.threshold, '2')
    assert.equal(trigger.metadata.query, 'sum(avg_over_time(mlserve_api_in_flight{namespace="ml",api="iris"}[60s]))')
    assert.equal(trigger.metadata.serverAddress, 'http://prometheus-operated.monitoring.svc:9090')
    assert.deepEqual(scaled.spec.advanced.horizontalPodAutoscalerConfig.behavior, {
      scaleUp: {stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{type: 'Percent', value: 50, periodSeconds: 10}]},
      scaleDown: {stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{type: 'Percent', value: 25, periodSeconds: 10}]},
    })
    // Under an autoscaler the Deployment leaves replicas to it; a fixed count (min = max) is set and gets no scaler.
    assert.equal(find('Deployment', 'iris').spec.replicas, undefined)
    assert.equal(find('Deployment', 'iris-shadow').spec.replicas, 2)
    assert.ok(!objects.some((object) => object.kind === 'ScaledObject' && object.metadata?.name === 'iris-shadow'))
  })

  test('the HPA alternative: the Pods metric with averageValue target, the same behavior plus the tolerances', async () => {
    const hpaObjects = await kubernetesManifests(fixture.project, kubernetesEnvironment(), IMAGES, {autoscaler: 'hpa'})
    validateManifests(hpaObjects)
    assert.ok(!hpaObjects.some((object) => object.kind === 'ScaledObject'))
    const hpa = hpaObjects.find((object) => object.kind === 'HorizontalPodAutoscaler' && object.metadata?.name === 'iris')!.toJSON() as Json
    assert.equal(hpa.apiVersion, 'autoscaling/v2')
    assert.equal(hpa.spec.minReplicas, 1)
    assert.equal(hpa.spec.maxReplicas, 4)
    assert.deepEqual(hpa.spec.metrics, [
      {type: 'Pods', pods: {metric: {name: 'mlserve_api_in_flight', selector: {matchLabels: {api: 'iris'}}}, target: {type: 'AverageValue', averageValue: '2'}}},
    ])
    assert.equal(hpa.spec.behavior.scaleUp.tolerance, '0.05')
    assert.equal(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds, 300)
    assert.deepEqual(hpa.spec.behavior.scaleUp.policies, [{type: 'Percent', value: 50, periodSeconds: 10}])
  })

  test('PodDisruptionBudget: one pod away at a time, unhealthy pods always evictable', () => {
    const pdb = find('PodDisruptionBudget', 'iris')
    assert.deepEqual(pdb.spec, {maxUnavailable: 1, selector: {matchLabels: {'app.kubernetes.io/name': 'iris', 'app.kubernetes.io/part-of': 'iris'}}, unhealthyPodEvictionPolicy: 'AlwaysAllow'})
  })

  test('HTTPRoute: backendRefs with the weights, RequestMirror to the shadow, on the splitter endpoint', () => {
    const route = find('HTTPRoute', 'iris-split')
    assert.deepEqual(route.spec.parentRefs, [{name: 'mlserve'}])
    const [rule] = route.spec.rules
    assert.deepEqual(rule.matches, [{path: {type: 'PathPrefix', value: '/iris-split'}}])
    assert.deepEqual(rule.backendRefs, [
      {name: 'iris', port: 80, weight: 80},
      {name: 'iris-v2', port: 80, weight: 20},
    ])
    assert.deepEqual(rule.filters, [{type: 'RequestMirror', requestMirror: {backendRef: {name: 'iris-shadow', port: 80}}}])
    // The shadow's weight 0 means every request (Cortex), which the route mirrors: nothing to warn about.
    assert.deepEqual(notes, [])
  })

  test('spot placement: a preferred node affinity and a toleration, never a requirement (on-demand nodes stay the fallback)', () => {
    const pod = find('Deployment', 'iris').spec.template.spec
    assert.deepEqual(pod.affinity, {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{weight: 100, preference: {matchExpressions: [{key: 'node.example.com/lifecycle', operator: 'In', values: ['spot']}]}}],
      },
    })
    assert.equal(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution, undefined)
    assert.deepEqual(pod.tolerations, [{key: 'node.example.com/lifecycle', operator: 'Equal', value: 'spot'}])
  })

  test('without a spot label: no affinity, no tolerations', async () => {
    const plain = await kubernetesManifests(fixture.project, kubernetesEnvironment(), IMAGES)
    const pod = (plain.find((object) => object.kind === 'Deployment')!.toJSON() as Json).spec.template.spec
    assert.equal(pod.affinity, undefined)
    assert.equal(pod.tolerations, undefined)
  })
})

describe('deployKubernetes --dry-run', () => {
  test('--out writes one YAML file per object, and they parse back to the objects', async () => {
    const out = join(fixture.root, 'manifests')
    const result = await deployKubernetes(fixture.project, kubernetesEnvironment(), {dryRun: true, out, gatewayImage: IMAGES.gateway, log: () => undefined})
    assert.equal(result.applied, false)
    assert.equal(result.yaml, undefined)
    const files = readdirSync(out).sort()
    assert.equal(files.length, 15)
    assert.ok(files.includes('deployment-iris.yaml'))
    assert.ok(files.includes('httproute-iris-split.yaml'))
    assert.deepEqual(result.objects.map((row) => row.file), result.objects.map((row) => join(out, `${row.kind.toLowerCase()}-${row.name}.yaml`)))
    const git = (await import('execa')).execa
    const version = (await git('git', ['describe', '--always', '--dirty'], {cwd: fixture.dir})).stdout.trim()
    const deployment = parse(readFileSync(join(out, 'deployment-iris-v2.yaml'), 'utf8')) as Json
    assert.equal(deployment.kind, 'Deployment')
    // The image the environment's registry has after `mlserve push`: REGISTRY/API:GIT-VERSION.
    assert.equal(container(deployment, 'api').image, `registry.example.com/team/iris-v2:${version}`)
    assert.equal(container(deployment, 'api').resources.limits['nvidia.com/gpu'], '1')
    const configMap = parse(readFileSync(join(out, 'configmap-iris-gateway.yaml'), 'utf8')) as Json
    assert.equal(JSON.parse(configMap.data['plan.json']).driver, 'remote')
    const route = parse(readFileSync(join(out, 'httproute-iris-split.yaml'), 'utf8')) as Json
    assert.deepEqual(route.spec.rules[0].backendRefs.map((ref: Json) => ref.weight), [80, 20])
  })

  test('without --out: one multi-document YAML stream of every object, and the default gateway image', async () => {
    const result = await deployKubernetes(fixture.project, kubernetesEnvironment({registry: '127.0.0.1:5000'}), {dryRun: true, log: () => undefined})
    assert.ok(result.yaml)
    const documents = parseAllDocuments(result.yaml).map((document) => document.toJS() as Json)
    assert.deepEqual(documents.map((document) => `${document.kind} ${document.metadata.name}`), result.objects.map((row) => `${row.kind} ${row.name}`))
    const deployment = documents.find((document) => document.kind === 'Deployment')!
    const version = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')).version
    assert.equal(container(deployment, 'gateway').image, `127.0.0.1:5000/mlserve-gateway:${version}`)
    assert.match(container(deployment, 'api').image, /^127\.0\.0\.1:5000\/iris:/)
  })

  test('MLSERVE_K8S_GATEWAY_IMAGE names the sidecar image when the call does not', async () => {
    const saved = process.env.MLSERVE_K8S_GATEWAY_IMAGE
    process.env.MLSERVE_K8S_GATEWAY_IMAGE = 'registry.example.com/infra/mlserve-gateway:0.1.0-abc123'
    try {
      const images = await deployImages(fixture.project, kubernetesEnvironment())
      assert.equal(images.gateway, 'registry.example.com/infra/mlserve-gateway:0.1.0-abc123')
      assert.equal((await deployImages(fixture.project, kubernetesEnvironment(), 'mine:1')).gateway, 'mine:1')
    } finally {
      if (saved === undefined) delete process.env.MLSERVE_K8S_GATEWAY_IMAGE
      else process.env.MLSERVE_K8S_GATEWAY_IMAGE = saved
    }
  })

  test('a project outside git has no image version: MLS_K8S_NO_IMAGE_VERSION', async () => {
    const bare = await sklearnSplitterProject({git: false})
    try {
      await assert.rejects(deployKubernetes(bare.project, kubernetesEnvironment(), {dryRun: true, log: () => undefined}), (error) => isMlserveError(error) && error.code === 'MLS_K8S_NO_IMAGE_VERSION')
    } finally {
      bare.cleanup()
    }
  })

  test('MLSERVE_K8S_* variables choose the autoscaler and the Gateway; a wrong value is MLS_K8S_SETTING_INVALID', () => {
    const chosen = resolveManifestOptions({log: () => undefined}, {MLSERVE_K8S_AUTOSCALER: 'hpa', MLSERVE_K8S_GATEWAY: 'infra/public', MLSERVE_K8S_PROMETHEUS_URL: 'http://prom:9090'})
    assert.equal(chosen.autoscaler, 'hpa')
    assert.deepEqual(chosen.gatewayRef, {namespace: 'infra', name: 'public'})
    assert.equal(chosen.prometheusUrl, 'http://prom:9090')
    assert.throws(() => resolveManifestOptions({log: () => undefined}, {MLSERVE_K8S_AUTOSCALER: 'vpa'}), (error) => isMlserveError(error) && error.code === 'MLS_K8S_SETTING_INVALID' && error.message.includes('vpa'))
    assert.throws(() => resolveManifestOptions({log: () => undefined}, {MLSERVE_K8S_GATEWAY: 'a/b/c'}), (error) => isMlserveError(error) && error.code === 'MLS_K8S_SETTING_INVALID')
  })

  test('a shadow_percent below 100 is mirrored whole, and said so', async () => {
    const project = structuredClone(fixture.project)
    const splitter = project.apis.find((api) => api.kind === 'TrafficSplitter')!
    if (splitter.kind !== 'TrafficSplitter') throw new Error('unreachable')
    splitter.apis[2].shadow_percent = 10
    const lines: string[] = []
    await kubernetesManifests(project, kubernetesEnvironment(), IMAGES, {log: (line) => lines.push(line)})
    assert.deepEqual(lines, ['iris-split: the HTTPRoute mirrors every request to iris-shadow (Gateway API v1.0 has no mirror percentage; 10% asked)'])
  })
})
